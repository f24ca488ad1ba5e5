{#- One row per session sample, measure and phase that changed by more than the threshold (vs the previous sample). -#}
{%- set variables = [
    ('current_a', 'current_l{p}_a', var('big_change_deadband_current_a')),
    ('voltage_v', 'voltage_l{p}_v', var('big_change_deadband_voltage_v')),
    ('temperature_c', 'temperature_l{p}_c', var('big_change_deadband_temperature_c')),
    ('power_w', 'power_l{p}_w', var('big_change_deadband_power_w')),
] -%}
{%- set series = [] -%}
{%- for variable, column, deadband in variables -%}
    {%- for phase in ['1', '2', '3'] -%}
        {%- do series.append((variable, 'L' ~ phase, column | replace('{p}', phase), deadband)) -%}
    {%- endfor -%}
{%- endfor -%}
{%- do series.append(('power_w', 'total', 'power_w', var('big_change_deadband_power_w'))) -%}
with

session_readings as (
    select * from {{ ref('int_session_readings_integrated') }}
),

-- One branch per variable and phase, each keeping only its big changes (so the long form is never
-- built for the unchanged samples).
changes as (
    {%- for variable, phase, column, deadband in series %}
        select
            session_id,
            sample_seq,
            event_id,
            charger_id,
            charger_at,
            elapsed_s,
            '{{ variable }}' as measure,
            '{{ phase }}' as phase,
            previous_{{ column }} as previous_value,
            {{ column }} as new_value,
            {{ deadband }} as deadband
        from session_readings
        where {{ is_big_change('previous_' ~ column, column, deadband) }}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

final as (
    select
        cast(session_id as bigint) as session_id,
        cast(sample_seq as bigint) as sample_seq,
        cast(measure as varchar) as measure,
        cast(phase as varchar) as phase,
        cast(event_id as bigint) as event_id,
        cast(charger_id as bigint) as charger_id,
        cast(charger_at as timestamp) as measured_at,
        cast(elapsed_s as bigint) as elapsed_s,
        cast(previous_value as double) as previous_value,
        cast(new_value as double) as new_value,
        cast(new_value - previous_value as double) as change_abs,
        cast(
            case when previous_value <> 0 then round((new_value - previous_value) / abs(previous_value) * 100, 4) end
            as double
        ) as change_pct,
        cast(case when new_value > previous_value then 'increase' else 'decrease' end as varchar) as direction,
        cast({{ var('big_change_threshold_pct') }} as double) as threshold_pct,
        cast(deadband as double) as deadband
    from changes
)

select * from final
