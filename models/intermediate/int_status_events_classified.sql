{#- One row per non-blank raw status line, with what became of it: kept, quarantined or dropped as a duplicate. -#}
with

status_events as (
    select * from {{ ref('stg_charger_logs__status_events') }}
),

well_formed_events as (
    select * from status_events
    where rejection_reason is null
),

-- Duplicates are rare: find the event ids and the (charger, charger time) pairs seen more than once
-- with two narrow hash aggregations, and rank only those rows, instead of sorting every line.
repeated_event_ids as (
    select event_id
    from well_formed_events
    group by event_id
    having count(*) > 1
),

repeated_measurements as (
    select
        charger_id,
        charger_epoch_s
    from well_formed_events
    group by charger_id, charger_epoch_s
    having count(*) > 1
),

repeated_events as (
    select well_formed_events.*
    from well_formed_events
    where
        well_formed_events.event_id in (select repeated_event_ids.event_id from repeated_event_ids)
        or exists (
            select 1
            from repeated_measurements
            where
                repeated_measurements.charger_id = well_formed_events.charger_id
                and repeated_measurements.charger_epoch_s = well_formed_events.charger_epoch_s
        )
),

-- Rule for every tie below: the earliest arrival wins (server time, then file, then line), so the
-- outcome does not depend on the order in which files are listed or read.
ranked_by_event_id as (
    select
        *,
        row_number() over by_event_id as event_id_rank,
        first_value(measurement_hash) over by_event_id as first_hash_of_event_id
    from repeated_events
    window by_event_id as (
        partition by event_id
        order by server_epoch_s asc nulls last, source_file asc, line_number asc
    )
),

-- Among the first row of each event id: the same charger and charger time seen again under a new id
-- is a re-sent batch when the values agree, a conflict when they do not.
ranked_by_measurement as (
    select
        *,
        row_number() over by_measurement as measurement_rank,
        first_value(measurement_hash) over by_measurement as first_hash_of_measurement
    from ranked_by_event_id
    window by_measurement as (
        partition by charger_id, charger_epoch_s, event_id_rank = 1
        order by server_epoch_s asc nulls last, event_id asc, source_file asc, line_number asc
    )
),

repeated_classified as (
    select
        * exclude (event_id_rank, first_hash_of_event_id, measurement_rank, first_hash_of_measurement),
        case
            when event_id_rank > 1 and measurement_hash = first_hash_of_event_id then 'exact_duplicate'
            when event_id_rank > 1 then 'conflicting_duplicate'
            when measurement_rank > 1 and measurement_hash = first_hash_of_measurement then 'resent_duplicate'
            when measurement_rank > 1 then 'conflicting_duplicate'
        end as disposition_reason
    from ranked_by_measurement
),

unique_events as (
    select
        *,
        cast(null as varchar) as disposition_reason
    from well_formed_events
    where not exists (
        select 1
        from repeated_events
        where
            repeated_events.source_file = well_formed_events.source_file
            and repeated_events.line_number = well_formed_events.line_number
    )
),

rejected_events as (
    select
        *,
        rejection_reason as disposition_reason
    from status_events
    where rejection_reason is not null
),

all_classified as (
    select * from repeated_classified
    union all by name
    select * from unique_events
    union all by name
    select * from rejected_events
),

-- The raw text is kept for quarantined lines only: the input files are the archive of the others.
final as (
    select
        * exclude (raw_line),
        case
            when disposition_reason in ('exact_duplicate', 'resent_duplicate') then 'duplicate'
            when disposition_reason is not null then 'quarantined'
            else 'clean'
        end as disposition,
        case
            when disposition_reason is not null and disposition_reason not in ('exact_duplicate', 'resent_duplicate')
                then raw_line
        end as raw_line
    from all_classified
)

select * from final  -- noqa: AM04
