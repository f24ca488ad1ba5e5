{# Total power in W of a reading: V x I per phase with a power factor of 1 (the on-board chargers of
   EVs correct theirs to about 0.99); a phase without a measurement adds nothing. #}
{% macro total_power_w() -%}
    coalesce(voltage_l1_v * current_l1_a, 0)
    + coalesce(voltage_l2_v * current_l2_a, 0)
    + coalesce(voltage_l3_v * current_l3_a, 0)
{%- endmacro %}

{# Energy in Wh between two readings by the trapezoidal rule on total power. #}
{% macro trapezoid_energy_wh(previous_power_w, power_w, interval_s) -%}
    ({{ previous_power_w }} + {{ power_w }}) / 2.0 * {{ interval_s }} / 3600.0
{%- endmacro %}

{# True when the interval before a reading is a gap: longer than var max_integration_gap_s. #}
{% macro is_gap_interval(interval_s) -%}
    coalesce({{ interval_s }} > {{ var('max_integration_gap_s') }}, false)
{%- endmacro %}

{# A phase's current or voltage where this reading misses it: the phase's last measured value of the
   same series before it (window `before_reading`, rows up to the previous one), carried when it was
   measured at most var max_integration_gap_s earlier; null when the reading has the value, or when no
   such value exists (a series' first readings, after a gap). #}
{% macro carried_value(column) -%}
    case
        when
            {{ column }} is null
            and measured_epoch_s
            - {{ last_non_null('case when ' ~ column ~ ' is not null then measured_epoch_s end') }} over before_reading
            <= {{ var('max_integration_gap_s') }}
            then {{ last_non_null(column) }} over before_reading
    end
{%- endmacro %}

{# The select of a model's rows with their carried currents and voltages (carried_value), one pair of
   columns per phase, over the series `partition_by` in measured order (a session, a charger's charge
   in progress). #}
{% macro select_with_carried_measurements(relation, partition_by) -%}
    select
        *,
        {%- for phase in [1, 2, 3] %}
            {{ carried_value('current_l' ~ phase ~ '_a') }} as carried_current_l{{ phase }}_a,
            {{ carried_value('voltage_l' ~ phase ~ '_v') }}
                as carried_voltage_l{{ phase }}_v{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ relation }}
    window before_reading as (
        partition by {{ partition_by }}
        order by measured_epoch_s asc
        rows between unbounded preceding and 1 preceding
    )
{%- endmacro %}

{# Power in W that carried values give a reading: for each phase missing its current or voltage, the
   measured value of the pair times the carried one (or both carried); 0 when nothing is carried. #}
{% macro carried_power_w() -%}
    {%- for phase in [1, 2, 3] %}
        coalesce(
            case
                when voltage_l{{ phase }}_v is null or current_l{{ phase }}_a is null
                    then coalesce(voltage_l{{ phase }}_v, carried_voltage_l{{ phase }}_v)
                    * coalesce(current_l{{ phase }}_a, carried_current_l{{ phase }}_a)
            end,
            0
        ){% if not loop.last %} +{% endif %}
    {%- endfor %}
{%- endmacro %}

{# True when a phase of the reading misses its current or voltage and carried values complete it. #}
{% macro has_carried_measurement() -%}
    {{ any_phase(
        '(voltage_l{p}_v is null or current_l{p}_a is null)'
        ~ ' and coalesce(voltage_l{p}_v, carried_voltage_l{p}_v)'
        ~ ' * coalesce(current_l{p}_a, carried_current_l{p}_a) is not null'
    ) }}
{%- endmacro %}

{# True when an interval is active charging: measured (no gap) and its mean power above
   var active_power_threshold_w. #}
{% macro is_active_charging_interval(previous_power_w, power_w, interval_s) -%}
    coalesce(
        {{ interval_s }} <= {{ var('max_integration_gap_s') }}
        and ({{ previous_power_w }} + {{ power_w }}) / 2.0 > {{ var('active_power_threshold_w') }},
        false
    )
{%- endmacro %}

{# The measured energy in Wh of an interval: the trapezoid, none across a gap. #}
{% macro measured_interval_energy_wh(previous_power_w, power_w, interval_s) -%}
    case
        when {{ interval_s }} <= {{ var('max_integration_gap_s') }}
            then {{ trapezoid_energy_wh(previous_power_w, power_w, interval_s) }}
        else 0.0
    end
{%- endmacro %}

{# The estimated energy in Wh of an interval: in a measured interval, the trapezoid of the power that
   carried values give its two readings; across a gap up to var max_estimated_gap_s long, a linear
   bridge between its two edge readings (the same trapezoid, on measured plus carried power); none
   across a longer gap. #}
{% macro estimated_interval_energy_wh(previous_power_w, power_w, previous_carried_power_w, carried_power_w, interval_s) -%}
    case
        when {{ interval_s }} <= {{ var('max_integration_gap_s') }}
            then {{ trapezoid_energy_wh(previous_carried_power_w, carried_power_w, interval_s) }}
        when {{ interval_s }} <= {{ var('max_estimated_gap_s') }}
            then {{ trapezoid_energy_wh(
                previous_power_w ~ ' + ' ~ previous_carried_power_w,
                power_w ~ ' + ' ~ carried_power_w,
                interval_s
            ) }}
        else 0.0
    end
{%- endmacro %}
