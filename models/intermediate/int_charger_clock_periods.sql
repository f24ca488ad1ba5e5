{#- One row per charger and clock period: a stretch of upload batches in which the charger's clock kept
    one offset from true time, with that offset estimated from received minus measured times. -#}
{{ charger_scoped_config() }}
with

-- An upload batch is the readings of one charger received at the same instant. Its skew (received
-- minus the latest measured time) is the upload delay plus the clock's error; a delay is never
-- negative and usually seconds, hours to days for a batch uploaded late.
upload_batches as (
    select
        charger_id,
        received_epoch_s,
        reading_count,
        first_measured_epoch_s,
        last_measured_epoch_s,
        batch_skew_s
    from {{ ref('int_charger_upload_batches') }}
    where {{ is_charger_changed() }}
),

-- Most chargers keep one clock level all their life: when the spread of a charger's skews is within
-- clock_error_threshold_s, no two neighbours can be further apart, so it has one level and one
-- period, computed below without sorting its batches.
chargers_split as (
    select
        charger_id,
        max(batch_skew_s) - min(batch_skew_s) > {{ var('clock_error_threshold_s') }} as has_levels
    from upload_batches
    group by charger_id
),

single_level_periods as (
    select
        upload_batches.charger_id,
        1 as clock_period_seq,
        min(upload_batches.received_epoch_s) as first_received_epoch_s,
        max(upload_batches.received_epoch_s) as last_received_epoch_s,
        min(upload_batches.first_measured_epoch_s) as first_measured_epoch_s,
        max(upload_batches.last_measured_epoch_s) as last_measured_epoch_s,
        {{ percentile_cont('upload_batches.batch_skew_s', var('clock_offset_percentile')) }} as level_skew_s,
        count(*) as batch_count,
        sum(upload_batches.reading_count) as reading_count
    from upload_batches
    inner join chargers_split
        on upload_batches.charger_id = chargers_split.charger_id
    where not chargers_split.has_levels
    group by upload_batches.charger_id
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
    where upload_batches.charger_id in (
        select chargers_split.charger_id from chargers_split
        where chargers_split.has_levels
    )
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
-- (late uploads would pull it).
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
        level_offsets.level_skew_s
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

multi_level_periods as (
    select
        charger_id,
        clock_period_seq,
        min(received_epoch_s) as first_received_epoch_s,
        max(received_epoch_s) as last_received_epoch_s,
        min(first_measured_epoch_s) as first_measured_epoch_s,
        max(last_measured_epoch_s) as last_measured_epoch_s,
        any_value(level_skew_s) as level_skew_s,
        count(*) as batch_count,
        sum(reading_count) as reading_count
    from periods_numbered
    group by charger_id, clock_period_seq
),

periods as (
    select * from single_level_periods
    {{ union_all_by_name() }}
    select * from multi_level_periods
),

-- A clock is corrected when its level's skew says it is more than clock_error_threshold_s behind
-- (less could be uploads that were all late) or more than clock_ahead_tolerance_s ahead (an upload
-- never precedes its measurement).
final as (
    select
        charger_id,
        clock_period_seq,
        first_received_epoch_s,
        last_received_epoch_s,
        first_measured_epoch_s,
        last_measured_epoch_s,
        level_skew_s,
        case
            when
                level_skew_s > {{ var('clock_error_threshold_s') }}
                or level_skew_s < -{{ var('clock_ahead_tolerance_s') }}
                then -cast(round(level_skew_s) as bigint)
            else 0
        end as clock_offset_s,
        batch_count,
        reading_count
    from periods
)

select * from final
