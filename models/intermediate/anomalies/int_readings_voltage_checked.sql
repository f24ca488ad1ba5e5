{#- One row per reading and phase with a voltage: the voltage rules of EN 50160 and of the phase's own
    learned baseline, as flags. A view: read once, by int_anomaly_episodes_detected. -#}
{{ config(materialized='view') }}
{%- set limits = voltage_limits() -%}
with

phase_readings as (
    select
        reading_id,
        charger_id,
        session_id,
        phase,
        reading_seq,
        corrected_measured_at,
        current_a,
        voltage_v,
        {{ time_bucket_seconds(var('voltage_mean_interval_s'), 'corrected_measured_at') }} as interval_started_at
    from {{ ref('int_phase_readings_sequenced') }}
    where voltage_v is not null
),

baselines as (
    select
        charger_id,
        phase,
        idle_voltage_v,
        voltage_drop_v_per_a,
        voltage_deviation_mad_v
    from {{ ref('int_charger_baselines_learned') }}
    where has_voltage_baseline
),

-- Below the interruption threshold the phase has no supply: a phase loss, not a sag; such readings
-- take no part in the voltage rules.
supplied_readings as (
    select
        *,
        voltage_v < {{ limits.interruption_v }} as is_interrupted
    from phase_readings
),

-- EN 50160 judges the mean RMS voltage of 10-minute intervals aligned on the clock (IEC 61000-4-30);
-- an interval with too few readings (lost telemetry) has no mean.
interval_means as (
    select
        charger_id,
        phase,
        interval_started_at,
        avg(voltage_v) as interval_mean_voltage_v,
        count(*) as interval_reading_count
    from supplied_readings
    where not is_interrupted
    group by charger_id, phase, interval_started_at
),

-- The phase's expected voltage is its idle level less the drop its own current causes; the allowed
-- deviation is the larger of a share of Un and a multiple of the phase's robust standard deviation.
expected as (
    select
        supplied_readings.*,
        case
            when interval_means.interval_reading_count >= {{ var('voltage_mean_min_readings') }}
                then interval_means.interval_mean_voltage_v
        end as interval_mean_voltage_v,
        baselines.idle_voltage_v - baselines.voltage_drop_v_per_a * coalesce(supplied_readings.current_a, 0)
            as expected_voltage_v,
        greatest(
            {{ limits.baseline_min_deviation_v }},
            {{ var('voltage_baseline_mad_multiplier') }} * 1.4826 * baselines.voltage_deviation_mad_v
        ) as baseline_deviation_limit_v
    from supplied_readings
    left join interval_means
        on
            supplied_readings.charger_id = interval_means.charger_id
            and supplied_readings.phase = interval_means.phase
            and supplied_readings.interval_started_at = interval_means.interval_started_at
    left join baselines
        on
            supplied_readings.charger_id = baselines.charger_id
            and supplied_readings.phase = baselines.phase
),

final as (
    select
        reading_id,
        charger_id,
        session_id,
        phase,
        reading_seq,
        corrected_measured_at,
        voltage_v,
        interval_mean_voltage_v,
        expected_voltage_v,
        baseline_deviation_limit_v,
        not is_interrupted and coalesce(interval_mean_voltage_v < {{ limits.sustained_low_v }}, false)
            as is_sag_sustained,
        not is_interrupted and coalesce(interval_mean_voltage_v > {{ limits.sustained_high_v }}, false)
            as is_swell_sustained,
        not is_interrupted and voltage_v < {{ limits.deep_low_v }} as is_sag_deep,
        voltage_v > {{ limits.deep_high_v }} as is_swell_deep,
        not is_interrupted and coalesce(voltage_v < expected_voltage_v - baseline_deviation_limit_v, false)
            as is_sag_against_baseline,
        coalesce(voltage_v > expected_voltage_v + baseline_deviation_limit_v, false) as is_swell_against_baseline
    from expected
)

select * from final
