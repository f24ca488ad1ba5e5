{#- One row per non-blank raw status line, with its reason code: null when the reading is kept. -#}
with

readings as (
    select * from {{ ref('stg_charger_logs__readings') }}
),

well_formed_readings as (
    select * from readings
    where reason_code is null
),

-- Duplicates are rare: find the reading ids and the (charger, measured time) pairs seen more than
-- once with two narrow hash aggregations, and rank only those rows, instead of sorting every line.
repeated_reading_ids as (
    select reading_id
    from well_formed_readings
    group by reading_id
    having count(*) > 1
),

repeated_measurements as (
    select
        charger_id,
        measured_epoch_s
    from well_formed_readings
    group by charger_id, measured_epoch_s
    having count(*) > 1
),

repeated_readings as (
    select well_formed_readings.*
    from well_formed_readings
    where
        well_formed_readings.reading_id in (select repeated_reading_ids.reading_id from repeated_reading_ids)
        or exists (
            select 1
            from repeated_measurements
            where
                repeated_measurements.charger_id = well_formed_readings.charger_id
                and repeated_measurements.measured_epoch_s = well_formed_readings.measured_epoch_s
        )
),

-- Rule for every tie below: the earliest arrival wins (server time, then file, then line), so the
-- outcome does not depend on the order in which files are listed or read.
ranked_by_reading_id as (
    select
        *,
        row_number() over by_reading_id as reading_id_rank,
        first_value(values_hash) over by_reading_id as first_hash_of_reading_id
    from repeated_readings
    window by_reading_id as (
        partition by reading_id
        order by received_epoch_s asc nulls last, source_file asc, line_number asc
    )
),

-- Among the first row of each reading id: the same charger and measured time seen again under a new
-- id is a re-sent batch when the values agree, a conflict when they do not.
ranked_by_measurement as (
    select
        *,
        row_number() over by_measurement as measurement_rank,
        first_value(values_hash) over by_measurement as first_hash_of_measurement
    from ranked_by_reading_id
    window by_measurement as (
        partition by charger_id, measured_epoch_s, reading_id_rank = 1
        order by received_epoch_s asc nulls last, reading_id asc, source_file asc, line_number asc
    )
),

repeated_classified as (
    select
        * exclude (reason_code, reading_id_rank, first_hash_of_reading_id, measurement_rank, first_hash_of_measurement),
        case
            when reading_id_rank > 1 and values_hash = first_hash_of_reading_id then 'exact_duplicate'
            when reading_id_rank > 1 then 'conflicting_duplicate'
            when measurement_rank > 1 and values_hash = first_hash_of_measurement then 'resent_duplicate'
            when measurement_rank > 1 then 'conflicting_duplicate'
        end as reason_code
    from ranked_by_measurement
),

unique_readings as (
    select * from well_formed_readings
    where not exists (
        select 1
        from repeated_readings
        where
            repeated_readings.source_file = well_formed_readings.source_file
            and repeated_readings.line_number = well_formed_readings.line_number
    )
),

rejected_readings as (
    select * from readings
    where reason_code is not null
),

all_classified as (
    select * from repeated_classified
    union all by name
    select * from unique_readings
    union all by name
    select * from rejected_readings
),

-- The raw text is kept for rejected lines only: the input files are the archive of the others.
final as (
    select
        * exclude (raw_line, values_hash),
        case when reason_code is not null then raw_line end as raw_line
    from all_classified
)

select * from final  -- noqa: AM04
