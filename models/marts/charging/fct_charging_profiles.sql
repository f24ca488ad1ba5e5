{#- One row per reading of a charging session: the session's charging profile. -#}
{{ session_scoped_config() }}
with

session_readings as (
    select * from {{ ref('int_session_readings_integrated') }}
    where {{ is_session_refreshed() }}
),

final as (
    select
        session_id,
        reading_seq,
        reading_id,
        charger_id,
        corrected_measured_at,
        measured_at,
        clock_offset_s,
        is_clock_corrected,
        elapsed_s,
        phase_count,
        {%- for phase in [1, 2, 3] %}
            current_l{{ phase }}_a,
            voltage_l{{ phase }}_v,
            temperature_l{{ phase }}_c,
            power_l{{ phase }}_w,
        {%- endfor %}
        power_w,
        power_w / 1000.0 as power_kw,
        interval_s,
        is_gap_before,
        is_active_interval,
        interval_energy_wh,
        interval_estimated_energy_wh,
        accumulated_energy_wh,
        accumulated_estimated_energy_wh,
        accumulated_energy_wh / 1000.0 as accumulated_energy_kwh,
        has_missing_measurement,
        has_carried_measurement,
        is_late_arrival,
        line_layout
    from session_readings
)

select * from final
