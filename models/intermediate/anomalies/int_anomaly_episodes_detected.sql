{#- One row per detector episode: a run of consecutive readings of one charger phase that one detector
    flagged, with its evidence. fct_anomalies merges the episodes of one kind into anomalies. -#}
{%- set limits = voltage_limits() -%}
with

voltage_checks as (
    select * from {{ ref('int_readings_voltage_checked') }}
),

temperature_checks as (
    select * from {{ ref('int_readings_temperature_checked') }}
),

phase_loss_checks as (
    select * from {{ ref('int_readings_phase_loss_checked') }}
),

stuck_sensor_checks as (
    select * from {{ ref('int_readings_stuck_sensor_checked') }}
),

phase_readings as (
    select
        charger_id,
        phase,
        corrected_measured_at
    from {{ ref('int_phase_readings_sequenced') }}
),

-- One branch per detector and kind, each keeping only its flagged readings with the value it judged
-- (observed), what the phase's baseline expected, and the limit it applied, in the unit of the measure.
flagged_readings as (
    select
        'voltage_10min_mean' as detector,
        'voltage_sag' as kind,
        'voltage_v' as measure,
        charger_id,
        session_id,
        phase,
        reading_seq,
        corrected_measured_at,
        interval_mean_voltage_v as observed_value,
        expected_voltage_v as expected_value,
        {{ limits.sustained_low_v }} as limit_value,
        false as is_critical
    from voltage_checks
    where is_sag_sustained

    union all

    select
        'voltage_10min_mean' as detector,
        'voltage_swell' as kind,
        'voltage_v' as measure,
        charger_id,
        session_id,
        phase,
        reading_seq,
        corrected_measured_at,
        interval_mean_voltage_v as observed_value,
        expected_voltage_v as expected_value,
        {{ limits.sustained_high_v }} as limit_value,
        false as is_critical
    from voltage_checks
    where is_swell_sustained

    union all

    select
        'voltage_deep_reading' as detector,
        'voltage_sag' as kind,
        'voltage_v' as measure,
        charger_id,
        session_id,
        phase,
        reading_seq,
        corrected_measured_at,
        voltage_v as observed_value,
        expected_voltage_v as expected_value,
        {{ limits.deep_low_v }} as limit_value,
        true as is_critical
    from voltage_checks
    where is_sag_deep

    union all

    select
        'voltage_deep_reading' as detector,
        'voltage_swell' as kind,
        'voltage_v' as measure,
        charger_id,
        session_id,
        phase,
        reading_seq,
        corrected_measured_at,
        voltage_v as observed_value,
        expected_voltage_v as expected_value,
        {{ limits.deep_high_v }} as limit_value,
        true as is_critical
    from voltage_checks
    where is_swell_deep

    union all

    select
        'voltage_baseline' as detector,
        'voltage_sag' as kind,
        'voltage_v' as measure,
        charger_id,
        session_id,
        phase,
        reading_seq,
        corrected_measured_at,
        voltage_v as observed_value,
        expected_voltage_v as expected_value,
        expected_voltage_v - baseline_deviation_limit_v as limit_value,
        false as is_critical
    from voltage_checks
    where is_sag_against_baseline

    union all

    select
        'voltage_baseline' as detector,
        'voltage_swell' as kind,
        'voltage_v' as measure,
        charger_id,
        session_id,
        phase,
        reading_seq,
        corrected_measured_at,
        voltage_v as observed_value,
        expected_voltage_v as expected_value,
        expected_voltage_v + baseline_deviation_limit_v as limit_value,
        false as is_critical
    from voltage_checks
    where is_swell_against_baseline

    union all

    select
        'temperature_limit' as detector,
        'overheating' as kind,
        'temperature_c' as measure,
        charger_id,
        session_id,
        phase,
        reading_seq,
        corrected_measured_at,
        sustained_temperature_c as observed_value,
        expected_temperature_c as expected_value,
        {{ var('temperature_limit_c') }} as limit_value,
        is_at_stop_limit or is_trip as is_critical
    from temperature_checks
    where is_above_limit

    union all

    select
        'temperature_rise_rate' as detector,
        'overheating' as kind,
        'temperature_c' as measure,
        charger_id,
        session_id,
        phase,
        reading_seq,
        corrected_measured_at,
        sustained_temperature_c as observed_value,
        expected_temperature_c as expected_value,
        -- the temperature the rise window's lowest value may reach
        sustained_temperature_c - temperature_rise_c + {{ var('temperature_rise_max_c') }} as limit_value,
        is_at_stop_limit or is_trip as is_critical
    from temperature_checks
    where is_rising_fast

    union all

    select
        'temperature_baseline' as detector,
        'overheating' as kind,
        'temperature_c' as measure,
        charger_id,
        session_id,
        phase,
        reading_seq,
        corrected_measured_at,
        sustained_temperature_c as observed_value,
        expected_temperature_c as expected_value,
        expected_temperature_c + excess_limit_c as limit_value,
        is_at_stop_limit or is_trip as is_critical
    from temperature_checks
    where is_above_baseline

    union all

    select
        'phase_current_lost' as detector,
        'phase_loss' as kind,
        'current_a' as measure,
        charger_id,
        session_id,
        phase,
        reading_seq,
        corrected_measured_at,
        current_a as observed_value,
        -- the current of the phases still charging: what the lost phase would carry
        other_phases_min_current_a as expected_value,
        {{ var('phase_loss_current_max_a') }} as limit_value,
        true as is_critical
    from phase_loss_checks
    where is_phase_lost

    union all

    select
        'voltage_frozen' as detector,
        'stuck_sensor' as kind,
        'voltage_v' as measure,
        charger_id,
        session_id,
        phase,
        reading_seq,
        corrected_measured_at,
        voltage_v as observed_value,
        null as expected_value,
        null as limit_value,
        false as is_critical
    from stuck_sensor_checks
    where is_stuck
),

-- Consecutive flagged readings of one detector on one charger phase form an episode; an unflagged
-- reading between them, or a gap longer than max_integration_gap_s (lost telemetry), ends it.
episodes_started as (
    select
        *,
        coalesce(
            reading_seq - lag(reading_seq) over by_detector_phase > 1
            or date_diff('second', lag(corrected_measured_at) over by_detector_phase, corrected_measured_at)
            > {{ var('max_integration_gap_s') }},
            true
        ) as starts_episode
    from flagged_readings
    window by_detector_phase as (partition by detector, kind, charger_id, phase order by reading_seq asc)
),

episodes_numbered as (
    select
        *,
        sum(cast(starts_episode as int)) over (
            partition by detector, kind, charger_id, phase
            order by reading_seq asc
            rows between unbounded preceding and current row
        ) as episode_seq
    from episodes_started
),

-- The evidence of an episode is taken at its most extreme reading: the lowest for a sag and a lost
-- phase, the highest otherwise (ties: the earliest reading).
episodes as (
    select
        detector,
        kind,
        measure,
        charger_id,
        phase,
        min(session_id) as session_id,
        min(corrected_measured_at) as started_at,
        max(corrected_measured_at) as ended_at,
        count(*) as reading_count,
        case
            when kind in ('voltage_sag', 'phase_loss') then min(observed_value) else max(observed_value)
        end as extreme_value,
        case
            when kind in ('voltage_sag', 'phase_loss') then arg_min(expected_value, [observed_value, reading_seq])
            else arg_max(expected_value, [observed_value, -reading_seq])
        end as expected_value,
        case
            when kind in ('voltage_sag', 'phase_loss') then arg_min(limit_value, [observed_value, reading_seq])
            else arg_max(limit_value, [observed_value, -reading_seq])
        end as limit_value,
        bool_or(is_critical) as is_critical
    from episodes_numbered
    group by detector, kind, measure, charger_id, phase, episode_seq
    having count(*) >= {{ var('anomaly_min_readings') }}
),

-- An episode that reaches the last reading of its charger phase may go on in the next batch.
last_readings as (
    select
        charger_id,
        phase,
        max(corrected_measured_at) as last_measured_at
    from phase_readings
    group by charger_id, phase
),

final as (
    select
        episodes.*,
        episodes.ended_at = last_readings.last_measured_at as is_open
    from episodes
    inner join last_readings
        on
            episodes.charger_id = last_readings.charger_id
            and episodes.phase = last_readings.phase
)

select * from final
