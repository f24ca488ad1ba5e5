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
