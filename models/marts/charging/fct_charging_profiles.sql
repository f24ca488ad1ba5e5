{#- One row per charging session per telemetry sample. -#}
with

session_readings as (
    select * from {{ ref('int_session_readings_integrated') }}
),

final as (
    select
        cast(session_id as bigint) as session_id,
        cast(sample_seq as bigint) as sample_seq,
        cast(event_id as bigint) as event_id,
        cast(charger_id as bigint) as charger_id,
        cast(charger_at as timestamp) as measured_at,
        cast(elapsed_s as bigint) as elapsed_s,
        cast(phase_count as integer) as phase_count,
        {%- for phase in [1, 2, 3] %}
            cast(current_l{{ phase }}_a as double) as current_l{{ phase }}_a,
            cast(voltage_l{{ phase }}_v as double) as voltage_l{{ phase }}_v,
            cast(temperature_l{{ phase }}_c as double) as temperature_l{{ phase }}_c,
            cast(power_l{{ phase }}_w as double) as power_l{{ phase }}_w,
        {%- endfor %}
        cast(power_w as double) as power_w,
        cast(power_w / 1000.0 as double) as power_kw,
        cast(interval_s as bigint) as interval_s,
        cast(is_gap_before as boolean) as is_gap_before,
        cast(interval_energy_wh as double) as interval_energy_wh,
        cast(accumulated_energy_wh as double) as accumulated_energy_wh,
        cast(accumulated_energy_wh / 1000.0 as double) as accumulated_energy_kwh,
        cast(has_missing_measurement as boolean) as has_missing_measurement,
        cast(is_late_arrival as boolean) as is_late_arrival,
        cast(status_layout as varchar) as status_layout
    from session_readings
)

select * from final
