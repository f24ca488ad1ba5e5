{#- One row per reading of a charging session: power, the previous reading's values, energy, flags. -#}
{%- set series = [] -%}
{%- for variable in ['current_l{p}_a', 'voltage_l{p}_v', 'temperature_l{p}_c', 'power_l{p}_w'] -%}
    {%- for phase in ['1', '2', '3'] -%}
        {%- do series.append(variable | replace('{p}', phase)) -%}
    {%- endfor -%}
{%- endfor -%}
{%- do series.append('power_w') -%}
{#- Incremental: the sessions with readings from a changed charger's rebuild time on are integrated
    again from their start, and their readings from that time on replace the old ones, stamped
    (refreshed_at): int_sessions_clock_corrected rebuilds the sessions whose readings were
    rewritten. -#}
{{ charger_window_config() }}
with

{%- if is_incremental() %}
corrected_chargers as (
    {{ corrected_clock_chargers(this) }}
),

offset_changes as (
    {{ clock_offset_changes(ref('int_session_readings_attributed'), this, 'corrected_chargers') }}
),

change_windows as (
    {{ charger_change_windows('offset_changes') }}
),

touched_sessions as (
    select distinct attributed.session_id
    from {{ ref('int_session_readings_attributed') }} as attributed
    inner join change_windows
        on
            attributed.charger_id = change_windows.charger_id
            and attributed.measured_epoch_s >= change_windows.rebuilt_from_epoch_s
),
{%- endif %}

session_readings as (
    select
        {{ star_except(['rebuilt_from_epoch_s'], 'attributed') }},
        {%- if is_incremental() %}
            change_windows.rebuilt_from_epoch_s
        {%- else %}
            cast(0 as bigint) as rebuilt_from_epoch_s
        {%- endif %}
    from {{ ref('int_session_readings_attributed') }} as attributed
    {%- if is_incremental() %}
        inner join change_windows on attributed.charger_id = change_windows.charger_id
    where attributed.session_id in (select touched_sessions.session_id from touched_sessions)
    {%- endif %}
),

-- A phase's missing current or voltage is carried from the phase's last measured value in the session
-- when that value is at most max_integration_gap_s old, as a lost reading would leave a measured
-- interval; a session's first readings and a reading after a gap have none to carry. The carried
-- values feed only the energy estimate (charging_power.sql); the reading's own columns stay null.
carried as (
    {{ select_with_carried_measurements('session_readings', 'session_id') }}
),

-- Power per phase is V x I with a power factor of 1 (chargers correct their power factor to ~0.99);
-- a phase without a measurement contributes nothing to the measured total, and what carried values
-- give it is carried_power_w.
powered as (
    select
        {{ star_except([
            'carried_current_l1_a', 'carried_voltage_l1_v',
            'carried_current_l2_a', 'carried_voltage_l2_v',
            'carried_current_l3_a', 'carried_voltage_l3_v',
        ]) }},
        {%- for phase in [1, 2, 3] %}
            voltage_l{{ phase }}_v * current_l{{ phase }}_a as power_l{{ phase }}_w,
        {%- endfor %}
        {{ total_power_w() }} as power_w,
        {{ carried_power_w() }} as carried_power_w,
        {{ has_carried_measurement() }} as has_carried_measurement
    from carried
),

-- The previous reading's values feed the big-change report; the interval feeds the energy.
lagged as (
    select
        *,
        cast(row_number() over by_session as bigint) as reading_seq,
        {%- for column in series %}
            lag({{ column }}) over by_session as previous_{{ column }},
        {%- endfor %}
        lag(carried_power_w) over by_session as previous_carried_power_w,
        measured_epoch_s - lag(measured_epoch_s) over by_session as interval_s
    from powered
    window by_session as (partition by session_id order by measured_epoch_s asc)
),

-- Trapezoidal rule between consecutive readings: the measured energy of an interval. A gap (longer
-- than max_integration_gap_s) has no measured energy; up to max_estimated_gap_s it gets an estimate,
-- a linear bridge between its two edge readings (the same trapezoid), kept apart from the measured
-- energy. A longer gap gets none: the car may have finished, paused or tapered inside it. What the
-- carried values of a measured interval's readings add is estimated too. An interval is active
-- charging when it is measured and its mean power, carried power included, is above
-- active_power_threshold_w. The rules are macros (charging_power.sql), shared with the sessions in
-- progress.
energies as (
    select
        {{ star_except(['previous_carried_power_w']) }},
        {{ is_gap_interval('interval_s') }} as is_gap_before,
        {{ is_active_charging_interval(
            'previous_power_w + previous_carried_power_w', 'power_w + carried_power_w', 'interval_s'
        ) }} as is_active_interval,
        {{ measured_interval_energy_wh('previous_power_w', 'power_w', 'interval_s') }} as interval_energy_wh,
        {{ estimated_interval_energy_wh(
            'previous_power_w', 'power_w', 'previous_carried_power_w', 'carried_power_w', 'interval_s'
        ) }} as interval_estimated_energy_wh
    from lagged
),

final as (
    select
        *,
        -- added as exact decimals: the same to the last bit however the rows are split or ordered
        {{ exact_sum('interval_energy_wh + interval_estimated_energy_wh', over='by_session_so_far') }}
            as accumulated_energy_wh,
        {{ exact_sum('interval_estimated_energy_wh', over='by_session_so_far') }} as accumulated_estimated_energy_wh,
        {{ build_refreshed_at() }} as refreshed_at
    from energies
    window by_session_so_far as (
        partition by session_id
        order by measured_epoch_s asc
        rows between unbounded preceding and current row
    )
)

select * from final  -- noqa: AM04
{%- if is_incremental() %}
    where measured_epoch_s >= rebuilt_from_epoch_s
{%- endif %}
