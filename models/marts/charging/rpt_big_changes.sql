{#- One row per session reading, measure and phase that changed by more than the threshold vs the previous reading. -#}
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
{{ session_scoped_config() }}
with

session_readings as (
    select * from {{ ref('int_session_readings_integrated') }}
    where {{ is_session_refreshed() }}
),

-- One branch per variable and phase, each keeping only its big changes (so the long form is never
-- built for the unchanged readings).
changes as (
    {%- for variable, phase, column, deadband in series %}
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
            '{{ variable }}' as measure,
            '{{ phase }}' as phase,
            previous_{{ column }} as previous_value,
            {{ column }} as new_value,
            cast({{ deadband }} as double) as deadband
        from session_readings
        where {{ is_big_change('previous_' ~ column, column, deadband) }}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

final as (
    select
        session_id,
        reading_seq,
        measure,
        phase,
        reading_id,
        charger_id,
        corrected_measured_at,
        measured_at,
        clock_offset_s,
        is_clock_corrected,
        elapsed_s,
        previous_value,
        new_value,
        new_value - previous_value as change_abs,
        -- a percentage of a baseline inside the deadband (noise around zero) means nothing
        case
            when abs(previous_value) > deadband
                then round((new_value - previous_value) / abs(previous_value) * 100, 6)
        end as change_pct,
        case when new_value > previous_value then 'increase' else 'decrease' end as direction,
        cast({{ var('big_change_threshold_pct') }} as double) as threshold_pct,
        deadband
    from changes
)

select * from final
