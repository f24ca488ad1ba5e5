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

{# The estimated energy in Wh of a gap up to var max_estimated_gap_s long: a linear bridge between its
   two edge readings (the same trapezoid); none for a measured interval or a longer gap. #}
{% macro estimated_interval_energy_wh(previous_power_w, power_w, interval_s) -%}
    case
        when
            {{ interval_s }} > {{ var('max_integration_gap_s') }}
            and {{ interval_s }} <= {{ var('max_estimated_gap_s') }}
            then {{ trapezoid_energy_wh(previous_power_w, power_w, interval_s) }}
        else 0.0
    end
{%- endmacro %}
