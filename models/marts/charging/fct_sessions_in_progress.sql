{#- One row per charger charging now by its telemetry, in a session whose event has not arrived yet:
    a provisional session with its live figures, replaced by the briefing once the car is unplugged. -#}
{{ charger_scoped_config(on_schema_change='append_new_columns') }}
with

readings as (
    select
        reading_id,
        charger_id,
        measured_epoch_s,
        corrected_measured_at,
        clock_offset_s,
        current_l1_a,
        current_l2_a,
        current_l3_a,
        {{ total_power_w() }} as power_w
    from {{ ref('int_readings_clock_corrected') }}
    where {{ is_charger_changed() }}
),

sessions as (
    select
        charger_id,
        ended_epoch_s,
        user_id,
        unit_price_eur_per_kwh
    from {{ ref('int_sessions_clock_corrected') }}
    where {{ is_charger_changed() }}
),

-- What the charger's sessions say: when its last one ended (by the charger's clock, which its
-- readings share), and the user and unit price of that session.
last_sessions as (
    select
        charger_id,
        max(ended_epoch_s) as last_ended_epoch_s,
        arg_max(user_id, ended_epoch_s) as last_user_id,
        arg_max(unit_price_eur_per_kwh, ended_epoch_s) as last_unit_price_eur_per_kwh
    from sessions
    group by charger_id
),

-- Readings measured after the charger's last session ended belong to no session yet.
unsessioned_readings as (
    select
        readings.*,
        last_sessions.last_user_id,
        last_sessions.last_unit_price_eur_per_kwh
    from readings
    left join last_sessions on readings.charger_id = last_sessions.charger_id
    where readings.measured_epoch_s > coalesce(last_sessions.last_ended_epoch_s, 0)
),

-- The session in progress started with the first reading that charged (total power above
-- active_power_threshold_w) after the last session.
charge_starts as (
    select
        charger_id,
        min(measured_epoch_s) as started_epoch_s
    from unsessioned_readings
    where power_w > {{ var('active_power_threshold_w') }}
    group by charger_id
),

live_readings as (
    select
        unsessioned_readings.*,
        unsessioned_readings.measured_epoch_s - lag(unsessioned_readings.measured_epoch_s) over by_charger
            as interval_s,
        lag(unsessioned_readings.power_w) over by_charger as previous_power_w
    from unsessioned_readings
    inner join charge_starts
        on
            unsessioned_readings.charger_id = charge_starts.charger_id
            and unsessioned_readings.measured_epoch_s >= charge_starts.started_epoch_s
    window by_charger as (
        partition by unsessioned_readings.charger_id order by unsessioned_readings.measured_epoch_s asc
    )
),

-- Energy so far as the profiles count it: measured between readings, none across a gap.
live_figures as (
    select
        charger_id,
        min(reading_id) as first_reading_id,
        any_value(last_user_id) as last_session_user_id,
        min(corrected_measured_at) as corrected_started_at,
        max(corrected_measured_at) as corrected_last_reading_at,
        any_value(clock_offset_s) as clock_offset_s,
        max(measured_epoch_s) - min(measured_epoch_s) as elapsed_s,
        count(*) as reading_count,
        {{ exact_sum(
            'case when interval_s <= ' ~ var('max_integration_gap_s')
            ~ ' then ' ~ trapezoid_energy_wh('previous_power_w', 'power_w', 'interval_s') ~ ' else 0 end'
        ) }} as energy_so_far_wh,
        arg_max(power_w, measured_epoch_s) as power_now_w,
        {%- for phase in [1, 2, 3] %}
            cast(coalesce(
                arg_max(current_l{{ phase }}_a, measured_epoch_s) > {{ var('phase_in_use_current_a') }}, false
            ) as int)
            {%- if not loop.last %} +{% endif %}
        {%- endfor %} as active_phases_now,
        coalesce(any_value(last_unit_price_eur_per_kwh), {{ var('default_unit_price_eur_per_kwh') }})
            as unit_price_eur_per_kwh
    from live_readings
    group by charger_id
),

final as (
    select
        *,
        energy_so_far_wh / 1000.0 * unit_price_eur_per_kwh as cost_so_far_eur
    from live_figures
)

select * from final
