{#- One row per reading and phase with a sustained temperature: the overheating rules (a fixed limit, a
    rise faster than the load explains, an excess over the phase's learned thermal baseline) as flags.
    A view: read once, by int_anomaly_episodes_detected. -#}
{{ config(materialized='view') }}
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
        sustained_temperature_c,
        reference_temperature_c,
        thermal_load_a,
        is_load_steady
    from {{ ref('int_phase_readings_sequenced') }}
    where sustained_temperature_c is not null
),

baselines as (
    select
        charger_id,
        phase,
        temperature_rise_c_per_a,
        temperature_excess_mad_c
    from {{ ref('int_charger_baselines_learned') }}
    where has_temperature_baseline
),

-- The rise of the sustained temperature over the rise window (with at least half its readings present).
rises as (
    select
        *,
        case
            when
                count(*) over rise_window
                >= {{ var('temperature_rise_window_s') / var('nominal_sample_interval_s') / 2 }}
                then sustained_temperature_c - min(sustained_temperature_c) over rise_window
        end as temperature_rise_c,
        lag(current_a) over by_charger_phase as previous_current_a
    from phase_readings
    window
        rise_window as (
            partition by charger_id, phase
            order by corrected_measured_at asc
            range between interval {{ var('temperature_rise_window_s') }} second preceding and current row
        ),
        -- the order of reading_seq (corrected time, then reading id), written as the rise window's
        -- order plus reading_seq so that DuckDB sorts the readings once for both windows
        by_charger_phase as (partition by charger_id, phase order by corrected_measured_at asc, reading_seq asc)
),

-- What the load explains: the cold reference plus the learned rise per ampere times the load the
-- terminals still feel (a terminal cools with its time constant after its current falls, and warms up
-- no faster, so the steady-state rise of the decayed load bounds it).
expected as (
    select
        rises.*,
        rises.reference_temperature_c
        + baselines.temperature_rise_c_per_a * rises.thermal_load_a as expected_temperature_c,
        greatest(
            {{ var('temperature_baseline_min_excess_c') }},
            {{ var('temperature_baseline_mad_multiplier') }} * 1.4826 * baselines.temperature_excess_mad_c
        ) as excess_limit_c
    from rises
    left join baselines
        on
            rises.charger_id = baselines.charger_id
            and rises.phase = baselines.phase
),

final as (
    select
        reading_id,
        charger_id,
        session_id,
        phase,
        reading_seq,
        corrected_measured_at,
        sustained_temperature_c,
        expected_temperature_c,
        excess_limit_c,
        temperature_rise_c,
        is_load_steady,
        sustained_temperature_c >= {{ var('temperature_limit_c') }} as is_above_limit,
        -- under a steady load the terminals have settled: a further rise is not the load's doing
        is_load_steady and coalesce(temperature_rise_c > {{ var('temperature_rise_max_c') }}, false) as is_rising_fast,
        coalesce(sustained_temperature_c > expected_temperature_c + excess_limit_c, false) as is_above_baseline,
        -- a thermal trip: the phase's current falls from charging to nothing above the limit
        coalesce(
            previous_current_a >= {{ var('charging_current_min_a') }}
            and current_a < {{ var('phase_in_use_current_a') }}
            and sustained_temperature_c >= {{ var('temperature_limit_c') }},
            false
        ) as is_trip,
        sustained_temperature_c >= {{ var('temperature_stop_c') }} as is_at_stop_limit
    from expected
)

select * from final
