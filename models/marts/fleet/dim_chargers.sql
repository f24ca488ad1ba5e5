{#- One row per charger seen in the readings or the sessions: its site's time zone, phases, rated power
    class, when it was first and last seen (true time), its activity and its clock periods. -#}
{{ charger_scoped_config(on_schema_change='append_new_columns') }}
with

readings as (
    select
        charger_id,
        phase_count,
        corrected_measured_at
    from {{ ref('int_readings_clock_corrected') }}
    where {{ is_charger_changed() }}
),

briefings as (
    select
        charger_id,
        user_id,
        corrected_started_at,
        corrected_ended_at,
        greatest(max_current_l1_a, max_current_l2_a, max_current_l3_a) as peak_phase_current_a
    from {{ ref('fct_session_briefings') }}
    where {{ is_charger_changed() }}
),

clock_periods as (
    select
        charger_id,
        clock_offset_s
    from {{ ref('int_charger_clock_periods') }}
    where {{ is_charger_changed() }}
),

time_zones as (
    select
        charger_id,
        time_zone
    from {{ ref('charger_time_zones') }}
),

power_classes as (
    select
        power_class,
        phases,
        max_current_a,
        rated_power_kw
    from {{ ref('charger_power_classes') }}
),

reading_stats as (
    select
        charger_id,
        count(*) as reading_count,
        max(phase_count) as phases_seen,
        min(corrected_measured_at) as first_reading_at,
        max(corrected_measured_at) as last_reading_at
    from readings
    group by charger_id
),

session_stats as (
    select
        charger_id,
        count(*) as session_count,
        count(distinct user_id) as user_count,
        -- a high percentile of the sessions' peaks: cars that draw less do not lower the class, one
        -- odd session does not raise it
        {{ percentile_cont('peak_phase_current_a', 0.9) }} as p90_session_peak_current_a,
        min(corrected_started_at) as first_session_started_at,
        max(corrected_ended_at) as last_session_ended_at
    from briefings
    group by charger_id
),

clock_stats as (
    select
        charger_id,
        count(*) as clock_period_count,
        count(*) filter (where clock_offset_s <> 0) as corrected_clock_period_count,
        max(abs(clock_offset_s)) as largest_clock_offset_s
    from clock_periods
    group by charger_id
),

chargers as (
    select
        coalesce(reading_stats.charger_id, session_stats.charger_id) as charger_id,
        reading_stats.reading_count,
        reading_stats.phases_seen,
        reading_stats.first_reading_at,
        reading_stats.last_reading_at,
        session_stats.session_count,
        session_stats.user_count,
        session_stats.p90_session_peak_current_a,
        session_stats.first_session_started_at,
        session_stats.last_session_ended_at
    from reading_stats
    full outer join session_stats on reading_stats.charger_id = session_stats.charger_id
),

-- The class of the charger's phases with the smallest rated current its p90 session peak fits.
classified as (
    select
        chargers.charger_id,
        power_classes.power_class,
        power_classes.rated_power_kw
    from chargers
    inner join power_classes
        on
            chargers.phases_seen = power_classes.phases
            and chargers.p90_session_peak_current_a
            <= power_classes.max_current_a * (1 + {{ var('rated_current_tolerance') }})
    qualify row_number() over (partition by chargers.charger_id order by power_classes.max_current_a asc) = 1
),

final as (
    select
        chargers.charger_id,
        coalesce(time_zones.time_zone, '{{ var("fleet_default_time_zone") }}') as time_zone,
        chargers.phases_seen,
        chargers.p90_session_peak_current_a,
        classified.power_class,
        classified.rated_power_kw,
        least(chargers.first_reading_at, chargers.first_session_started_at) as first_seen_at,
        greatest(chargers.last_reading_at, chargers.last_session_ended_at) as last_seen_at,
        coalesce(chargers.reading_count, 0) as reading_count,
        coalesce(chargers.session_count, 0) as session_count,
        coalesce(chargers.user_count, 0) as user_count,
        coalesce(clock_stats.clock_period_count, 0) as clock_period_count,
        coalesce(clock_stats.corrected_clock_period_count, 0) as corrected_clock_period_count,
        coalesce(clock_stats.largest_clock_offset_s, 0) as largest_clock_offset_s
    from chargers
    left join classified on chargers.charger_id = classified.charger_id
    left join time_zones on chargers.charger_id = time_zones.charger_id
    left join clock_stats on chargers.charger_id = clock_stats.charger_id
)

select * from final
