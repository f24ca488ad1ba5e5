{#- One row per reading of a session in progress: its charging profile so far. -#}
{{ charger_scoped_config(on_schema_change='append_new_columns') }}
with

charge_readings as (
    select * from {{ ref('int_in_progress_readings_integrated') }}
    where {{ is_charger_changed() }}
),

final as (
    select
        charger_id,
        first_reading_id,
        reading_seq,
        reading_id,
        corrected_measured_at,
        elapsed_s,
        {%- for phase in [1, 2, 3] %}
            current_l{{ phase }}_a,
            voltage_l{{ phase }}_v,
            temperature_l{{ phase }}_c,
        {%- endfor %}
        power_w,
        is_gap_before,
        interval_estimated_energy_wh,
        accumulated_energy_wh,
        accumulated_estimated_energy_wh,
        has_missing_measurement,
        has_carried_measurement
    from charge_readings
)

select * from final
