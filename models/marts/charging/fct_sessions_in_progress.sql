{#- One row per charger charging now by its telemetry, in a session whose event has not arrived yet:
    a provisional session with its live figures, replaced by the briefing once the car is unplugged. -#}
{{ charger_scoped_config(on_schema_change='append_new_columns') }}
with

charge_readings as (
    select * from {{ ref('int_in_progress_readings_integrated') }}
    where {{ is_charger_changed() }}
),

-- The figures so far, counted as a session's briefing counts them.
live_figures as (
    select
        charger_id,
        any_value(first_reading_id) as first_reading_id,
        any_value(last_session_user_id) as last_session_user_id,
        any_value(sole_user_id) as sole_user_id,
        min(corrected_measured_at) as corrected_started_at,
        max(corrected_measured_at) as corrected_last_reading_at,
        any_value(clock_offset_s) as clock_offset_s,
        bool_or(is_clock_corrected) as is_clock_corrected,
        max(elapsed_s) as elapsed_s,
        count(*) as reading_count,
        {{ exact_sum('interval_energy_wh') }} as energy_so_far_wh,
        {{ exact_sum('interval_estimated_energy_wh') }} as estimated_gap_energy_wh,
        -- a sum of bigints is a hugeint in DuckDB
        coalesce(cast(sum(interval_s) filter (where is_active_interval) as bigint), 0) as active_charging_s,
        {{ exact_sum('case when is_active_interval then interval_energy_wh end') }} as active_energy_wh,
        max(power_w) as peak_power_w,
        coalesce(max(interval_s), 0) as largest_gap_s,
        count(*) filter (where is_gap_before) as gap_count,
        count(*) filter (where is_gap_before and interval_estimated_energy_wh > 0) as estimated_gap_count,
        count(*) filter (where has_missing_measurement) as missing_measurement_reading_count,
        max_by(power_w, measured_epoch_s) as power_now_w,
        {%- for phase in [1, 2, 3] %}
            cast(coalesce(
                max_by(current_l{{ phase }}_a, measured_epoch_s) > {{ var('phase_in_use_current_a') }}, false
            ) as int)
            {%- if not loop.last %} +{% endif %}
        {%- endfor %} as active_phases_now,
        {%- for phase in [1, 2, 3] %}
            cast(coalesce(max(current_l{{ phase }}_a), 0) > {{ var('phase_in_use_current_a') }} as int)
            {%- if not loop.last %} +{% endif %}
        {%- endfor %} as phases_used,
        coalesce(any_value(last_unit_price_eur_per_kwh), {{ var('default_unit_price_eur_per_kwh') }})
            as unit_price_eur_per_kwh
    from charge_readings
    group by charger_id
),

final as (
    select
        charger_id,
        first_reading_id,
        last_session_user_id,
        sole_user_id,
        corrected_started_at,
        corrected_last_reading_at,
        clock_offset_s,
        is_clock_corrected,
        elapsed_s,
        reading_count,
        energy_so_far_wh,
        estimated_gap_energy_wh,
        energy_so_far_wh + estimated_gap_energy_wh as telemetry_energy_wh,
        active_charging_s,
        power_now_w,
        peak_power_w,
        active_energy_wh * 3600.0 / nullif(active_charging_s, 0) as avg_charging_power_w,
        active_phases_now,
        phases_used,
        largest_gap_s,
        gap_count,
        estimated_gap_count,
        missing_measurement_reading_count,
        unit_price_eur_per_kwh,
        energy_so_far_wh / 1000.0 * unit_price_eur_per_kwh as cost_so_far_eur
    from live_figures
)

select * from final
