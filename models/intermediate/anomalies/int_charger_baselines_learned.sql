{#- One row per charger and phase: the phase's normal behaviour learned from its own history with robust
    statistics (medians and median absolute deviations), which the baseline detectors compare against. -#}
{{ charger_scoped_config(on_schema_change='sync_all_columns') }}
with

phase_readings as (
    select
        charger_id,
        phase,
        current_a,
        voltage_v,
        charger_current_a,
        sustained_temperature_c,
        reference_temperature_c,
        thermal_load_a,
        is_load_steady
    from {{ ref('int_phase_readings_sequenced') }}
    where {{ is_charger_changed() }}
),

-- An interrupted phase (voltage near 0) says nothing about the supply's normal level.
supplied_readings as (
    select * from phase_readings
    where voltage_v >= {{ voltage_limits().interruption_v }}
),

-- The phase's voltage with no load on the charger: the supply's own level at this connection.
idle_voltages as (
    select
        charger_id,
        phase,
        median(voltage_v) as idle_voltage_v
    from supplied_readings
    where charger_current_a < {{ var('phase_in_use_current_a') }}
    group by charger_id, phase
),

-- The voltage drop per ampere the phase's own current causes across the supply's impedance.
voltage_drops as (
    select
        supplied_readings.charger_id,
        supplied_readings.phase,
        median((idle_voltages.idle_voltage_v - supplied_readings.voltage_v) / supplied_readings.current_a)
            as voltage_drop_v_per_a
    from supplied_readings
    inner join idle_voltages
        on
            supplied_readings.charger_id = idle_voltages.charger_id
            and supplied_readings.phase = idle_voltages.phase
    where supplied_readings.current_a >= {{ var('charging_current_min_a') }}
    group by supplied_readings.charger_id, supplied_readings.phase
),

-- How far the phase's readings stray from that model: the spread of its own deviations.
voltage_deviations as (
    select
        supplied_readings.charger_id,
        supplied_readings.phase,
        count(*) as voltage_reading_count,
        {{ mad(
            'supplied_readings.voltage_v - idle_voltages.idle_voltage_v'
            ~ ' + coalesce(voltage_drops.voltage_drop_v_per_a, 0) * supplied_readings.current_a'
        ) }} as voltage_deviation_mad_v
    from supplied_readings
    inner join idle_voltages
        on
            supplied_readings.charger_id = idle_voltages.charger_id
            and supplied_readings.phase = idle_voltages.phase
    left join voltage_drops
        on
            supplied_readings.charger_id = voltage_drops.charger_id
            and supplied_readings.phase = voltage_drops.phase
    where supplied_readings.current_a is not null
    group by supplied_readings.charger_id, supplied_readings.phase
),

-- Steady charging: the phase charges under a steady load, so its temperature has settled at what that
-- load explains.
steady_readings as (
    select
        *,
        sustained_temperature_c - reference_temperature_c as temperature_rise_c
    from phase_readings
    where
        current_a >= {{ var('charging_current_min_a') }}
        and is_load_steady
        and sustained_temperature_c is not null
        and reference_temperature_c is not null
),

-- The temperature rise over the cold reference per ampere of the load the terminals feel.
temperature_rises as (
    select
        charger_id,
        phase,
        median(temperature_rise_c / thermal_load_a) as temperature_rise_c_per_a
    from steady_readings
    group by charger_id, phase
),

-- The spread of the steady temperatures around what that rise per ampere explains.
temperature_excesses as (
    select
        steady_readings.charger_id,
        steady_readings.phase,
        count(*) as steady_reading_count,
        {{ mad(
            'steady_readings.temperature_rise_c'
            ~ ' - temperature_rises.temperature_rise_c_per_a * steady_readings.thermal_load_a'
        ) }} as temperature_excess_mad_c
    from steady_readings
    inner join temperature_rises
        on
            steady_readings.charger_id = temperature_rises.charger_id
            and steady_readings.phase = temperature_rises.phase
    group by steady_readings.charger_id, steady_readings.phase
),

final as (
    select
        voltage_deviations.charger_id,
        voltage_deviations.phase,
        voltage_deviations.voltage_reading_count,
        idle_voltages.idle_voltage_v,
        coalesce(voltage_drops.voltage_drop_v_per_a, 0) as voltage_drop_v_per_a,
        voltage_deviations.voltage_deviation_mad_v,
        coalesce(temperature_excesses.steady_reading_count, 0) as steady_reading_count,
        temperature_rises.temperature_rise_c_per_a,
        temperature_excesses.temperature_excess_mad_c,
        voltage_deviations.voltage_reading_count >= {{ var('baseline_min_readings') }} as has_voltage_baseline,
        coalesce(temperature_excesses.steady_reading_count >= {{ var('baseline_min_readings') }}, false)
            as has_temperature_baseline
    from voltage_deviations
    inner join idle_voltages
        on
            voltage_deviations.charger_id = idle_voltages.charger_id
            and voltage_deviations.phase = idle_voltages.phase
    left join voltage_drops
        on
            voltage_deviations.charger_id = voltage_drops.charger_id
            and voltage_deviations.phase = voltage_drops.phase
    left join temperature_rises
        on
            voltage_deviations.charger_id = temperature_rises.charger_id
            and voltage_deviations.phase = temperature_rises.phase
    left join temperature_excesses
        on
            voltage_deviations.charger_id = temperature_excesses.charger_id
            and voltage_deviations.phase = temperature_excesses.phase
)

select * from final
