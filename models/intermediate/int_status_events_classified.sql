{#- One row per non-blank raw status line, with what became of it: kept, quarantined or dropped as a duplicate. -#}
with

status_events as (
    select * from {{ ref('stg_charger_logs__status_events') }}
),

-- Rule for every tie below: the earliest arrival wins (server time, then file, then line), so the
-- outcome does not depend on the order in which files are listed or read.
ranked_by_event_id as (
    select
        *,
        row_number() over by_event_id as event_id_rank,
        first_value(measurement_hash) over by_event_id as first_hash_of_event_id
    from status_events
    where rejection_reason is null
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

valid_classified as (
    select
        *,
        case
            when event_id_rank > 1 and measurement_hash = first_hash_of_event_id then 'exact_duplicate'
            when event_id_rank > 1 then 'conflicting_duplicate'
            when measurement_rank > 1 and measurement_hash = first_hash_of_measurement then 'resent_duplicate'
            when measurement_rank > 1 then 'conflicting_duplicate'
        end as duplicate_reason
    from ranked_by_measurement
),

-- Both branches carry every staging column; `union all by name` matches them by name. The raw text
-- is kept for quarantined lines only: the input files are the archive of the others.
final as (
    select
        valid_classified.* exclude (
            raw_line,
            event_id_rank,
            first_hash_of_event_id,
            measurement_rank,
            first_hash_of_measurement,
            duplicate_reason
        ),
        case
            when valid_classified.duplicate_reason = 'conflicting_duplicate' then valid_classified.raw_line
        end as raw_line,
        case
            when valid_classified.duplicate_reason in ('exact_duplicate', 'resent_duplicate') then 'duplicate'
            when valid_classified.duplicate_reason = 'conflicting_duplicate' then 'quarantined'
            else 'clean'
        end as disposition,
        valid_classified.duplicate_reason as disposition_reason
    from valid_classified
    union all by name
    select
        status_events.*,
        'quarantined' as disposition,
        status_events.rejection_reason as disposition_reason
    from status_events
    where status_events.rejection_reason is not null
)

select * from final  -- noqa: AM04
