{#- One row per reading of a session in progress: a charger's readings measured after its last known
    session ended, from the first that charged on, integrated as a session's readings are. -#}
{#- Rebuilt charger by charger: a changed charger's rows are replaced whole (a charge whose session
    event arrived has no row left). -#}
{{ charger_scoped_config() }}
{%- set unsessioned_filter = unsessioned_readings_filter() %}
with

readings as (
    select
        reading_id,
        charger_id,
        measured_epoch_s,
        corrected_measured_at,
        clock_offset_s,
        is_clock_corrected,
        {%- for phase in [1, 2, 3] %}
            current_l{{ phase }}_a,
            voltage_l{{ phase }}_v,
            temperature_l{{ phase }}_c,
        {%- endfor %}
        has_missing_measurement,
        {{ total_power_w() }} as power_w
    from {{ ref('int_readings_clock_corrected') }}
    where
        {{ is_charger_changed() }}
        -- a constant lower bound, so that the scan skips the history before the joins
        and {{ unsessioned_filter }}
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
-- readings share), the user and unit price of that session, and the charger's only user when every
-- known session is that one user's (a home charger).
last_sessions as (
    select
        charger_id,
        max(ended_epoch_s) as last_ended_epoch_s,
        max_by(user_id, ended_epoch_s) as last_user_id,
        max_by(unit_price_eur_per_kwh, ended_epoch_s) as last_unit_price_eur_per_kwh,
        case when count(distinct user_id) = 1 and count(user_id) = count(*) then min(user_id) end
            as sole_user_id
    from sessions
    group by charger_id
),

-- Readings measured after the charger's last session ended belong to no session yet.
unsessioned_readings as (
    select
        readings.*,
        last_sessions.last_user_id,
        last_sessions.sole_user_id,
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

charge_readings as (
    select
        unsessioned_readings.*,
        min(unsessioned_readings.reading_id) over by_charger_whole as first_reading_id,
        cast(row_number() over by_charger as bigint) as reading_seq,
        unsessioned_readings.measured_epoch_s - charge_starts.started_epoch_s as elapsed_s,
        unsessioned_readings.measured_epoch_s - lag(unsessioned_readings.measured_epoch_s) over by_charger
            as interval_s,
        lag(unsessioned_readings.power_w) over by_charger as previous_power_w
    from unsessioned_readings
    inner join charge_starts
        on
            unsessioned_readings.charger_id = charge_starts.charger_id
            and unsessioned_readings.measured_epoch_s >= charge_starts.started_epoch_s
    window
        by_charger as (
            partition by unsessioned_readings.charger_id order by unsessioned_readings.measured_epoch_s asc
        ),
        by_charger_whole as (partition by unsessioned_readings.charger_id)
),

-- A phase's missing current or voltage is carried from the charge's last measured value, as in a
-- session's readings (charging_power.sql).
carried as (
    {{ select_with_carried_measurements('charge_readings', 'charger_id') }}
),

carried_powered as (
    select
        *,
        {{ carried_power_w() }} as carried_power_w,
        {{ has_carried_measurement() }} as has_carried_measurement
    from carried
),

carried_lagged as (
    select
        *,
        lag(carried_power_w) over (partition by charger_id order by measured_epoch_s asc) as previous_carried_power_w
    from carried_powered
),

-- The rules of a session's readings (charging_power.sql): a gap has no measured energy, a gap up to
-- max_estimated_gap_s an estimate, what carried values add is estimated, an interval is active when
-- measured and charging.
energies as (
    select
        *,
        {{ is_gap_interval('interval_s') }} as is_gap_before,
        {{ is_active_charging_interval(
            'previous_power_w + previous_carried_power_w', 'power_w + carried_power_w', 'interval_s'
        ) }} as is_active_interval,
        {{ measured_interval_energy_wh('previous_power_w', 'power_w', 'interval_s') }} as interval_energy_wh,
        {{ estimated_interval_energy_wh(
            'previous_power_w', 'power_w', 'previous_carried_power_w', 'carried_power_w', 'interval_s'
        ) }} as interval_estimated_energy_wh
    from carried_lagged
),

final as (
    select
        charger_id,
        first_reading_id,
        reading_seq,
        reading_id,
        measured_epoch_s,
        corrected_measured_at,
        clock_offset_s,
        is_clock_corrected,
        elapsed_s,
        {%- for phase in [1, 2, 3] %}
            current_l{{ phase }}_a,
            voltage_l{{ phase }}_v,
            temperature_l{{ phase }}_c,
        {%- endfor %}
        power_w,
        carried_power_w,
        interval_s,
        is_gap_before,
        is_active_interval,
        interval_energy_wh,
        interval_estimated_energy_wh,
        -- added as exact decimals, as a session's readings are
        {{ exact_sum('interval_energy_wh + interval_estimated_energy_wh', over='by_charge_so_far') }}
            as accumulated_energy_wh,
        {{ exact_sum('interval_estimated_energy_wh', over='by_charge_so_far') }} as accumulated_estimated_energy_wh,
        has_missing_measurement,
        has_carried_measurement,
        last_user_id as last_session_user_id,
        sole_user_id,
        last_unit_price_eur_per_kwh
    from energies
    window by_charge_so_far as (
        partition by charger_id
        order by measured_epoch_s asc
        rows between unbounded preceding and current row
    )
)

select * from final
