{#- One row per status measurement inside a charging session: power, lagged values and deltas, energy. -#}
{%- set profile_columns = [] -%}
{%- for variable in ['current_l{p}_a', 'voltage_l{p}_v', 'temperature_l{p}_c', 'power_l{p}_w'] -%}
    {%- for phase in ['1', '2', '3'] -%}
        {%- do profile_columns.append(variable | replace('{p}', phase)) -%}
    {%- endfor -%}
{%- endfor -%}
with

session_events as (
    select * from {{ ref('int_status_events_sessionized') }}
    where attribution = 'session'
),

-- Power per phase is V x I with a power factor of 1 (chargers correct their power factor to ~0.99);
-- a phase without a measurement contributes nothing to the total.
powered as (
    select
        *,
        {%- for phase in [1, 2, 3] %}
            voltage_l{{ phase }}_v * current_l{{ phase }}_a as power_l{{ phase }}_w,
        {%- endfor %}
        coalesce(voltage_l1_v * current_l1_a, 0)
        + coalesce(voltage_l2_v * current_l2_a, 0)
        + coalesce(voltage_l3_v * current_l3_a, 0) as power_w
    from session_events
),

lagged as (
    select
        *,
        row_number() over by_session as sample_seq,
        lag(charger_epoch_s) over by_session as previous_epoch_s,
        lag(power_w) over by_session as previous_power_w,
        {%- for column in profile_columns %}
            lag({{ column }}) over by_session as previous_{{ column }},
        {%- endfor %}
        charger_epoch_s - lag(charger_epoch_s) over by_session as interval_s
    from powered
    window by_session as (partition by session_id order by charger_epoch_s asc)
),

-- Trapezoidal rule between consecutive samples; no energy across a gap longer than max_integration_gap_s.
integrated as (
    select
        *,
        coalesce(interval_s > {{ var('max_integration_gap_s') }}, false) as is_gap_before,
        case
            when interval_s <= {{ var('max_integration_gap_s') }}
                then (previous_power_w + power_w) / 2.0 * interval_s / 3600.0
            else 0.0
        end as interval_energy_wh
    from lagged
),

final as (
    select
        *,
        {%- for column in profile_columns %}
            {{ column }} - previous_{{ column }} as delta_{{ column }},
        {%- endfor %}
        power_w - previous_power_w as delta_power_w,
        sum(interval_energy_wh) over (
            partition by session_id
            order by charger_epoch_s asc
            rows between unbounded preceding and current row
        ) as accumulated_energy_wh
    from integrated
)

select * from final  -- noqa: AM04
