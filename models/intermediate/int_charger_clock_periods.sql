{#- One row per charger and clock period: a stretch of upload batches in which the charger's clock kept
    one offset from true time, with that offset estimated from received minus measured times. -#}
{{ charger_scoped_config() }}
with

readings as (
    select
        charger_id,
        measured_epoch_s,
        received_epoch_s
    from {{ ref('int_readings_deduplicated') }}
    where
        {{ is_charger_changed() }}
        and received_epoch_s is not null
),

-- An upload batch is the readings of one charger received at the same instant. Its skew (received
-- minus the latest measured time) is the upload delay plus the clock's error; a delay is never
-- negative and usually seconds, hours to days for a batch uploaded late.
upload_batches as (
    select
        charger_id,
        received_epoch_s,
        count(*) as reading_count,
        min(measured_epoch_s) as first_measured_epoch_s,
        max(measured_epoch_s) as last_measured_epoch_s,
        received_epoch_s - max(measured_epoch_s) as batch_skew_s
    from readings
    group by charger_id, received_epoch_s
),

-- Clock levels: the batches of a charger sorted by skew, split where two neighbours are more than
-- clock_error_threshold_s apart. Late uploads spread a level upwards by hours or days; a reset clock
-- is years away and makes a level of its own.
levels_started as (
    select
        *,
        coalesce(
            batch_skew_s - lag(batch_skew_s) over (partition by charger_id order by batch_skew_s asc)
            > {{ var('clock_error_threshold_s') }},
            false
        ) as starts_level
    from upload_batches
),

levels_numbered as (
    select
        *,
        sum(cast(starts_level as int)) over (
            partition by charger_id order by batch_skew_s asc rows between unbounded preceding and current row
        ) as clock_level
    from levels_started
),

-- A level's clock error is a low percentile of its batches' skews (the prompt uploads), not the mean
-- (late uploads would pull it). A clock is corrected when that skew says it is more than
-- clock_error_threshold_s behind (less could be uploads that were all late) or more than
-- clock_ahead_tolerance_s ahead (an upload never precedes its measurement).
level_offsets as (
    select
        charger_id,
        clock_level,
        {{ percentile_cont('batch_skew_s', var('clock_offset_percentile')) }} as level_skew_s
    from levels_numbered
    group by charger_id, clock_level
),

batches_levelled as (
    select
        levels_numbered.charger_id,
        levels_numbered.received_epoch_s,
        levels_numbered.reading_count,
        levels_numbered.first_measured_epoch_s,
        levels_numbered.last_measured_epoch_s,
        levels_numbered.clock_level,
        level_offsets.level_skew_s,
        case
            when
                level_offsets.level_skew_s > {{ var('clock_error_threshold_s') }}
                or level_offsets.level_skew_s < -{{ var('clock_ahead_tolerance_s') }}
                then -cast(round(level_offsets.level_skew_s) as bigint)
            else 0
        end as clock_offset_s
    from levels_numbered
    inner join level_offsets
        on
            levels_numbered.charger_id = level_offsets.charger_id
            and levels_numbered.clock_level = level_offsets.clock_level
),

-- A period is a run of consecutive uploads (by received time) at one level: a reset starts one, a
-- time sync back to the right time starts the next.
periods_started as (
    select
        *,
        coalesce(
            clock_level <> lag(clock_level) over (partition by charger_id order by received_epoch_s asc),
            true
        ) as starts_period
    from batches_levelled
),

periods_numbered as (
    select
        *,
        sum(cast(starts_period as int)) over (
            partition by charger_id order by received_epoch_s asc rows between unbounded preceding and current row
        ) as clock_period_seq
    from periods_started
),

final as (
    select
        charger_id,
        clock_period_seq,
        min(received_epoch_s) as first_received_epoch_s,
        max(received_epoch_s) as last_received_epoch_s,
        min(first_measured_epoch_s) as first_measured_epoch_s,
        max(last_measured_epoch_s) as last_measured_epoch_s,
        any_value(level_skew_s) as level_skew_s,
        any_value(clock_offset_s) as clock_offset_s,
        count(*) as batch_count,
        sum(reading_count) as reading_count
    from periods_numbered
    group by charger_id, clock_period_seq
)

select * from final
