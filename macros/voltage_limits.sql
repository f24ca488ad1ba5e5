{# The voltage limits in volts, derived from Un and the shares of the EN 50160 vars, as a dict. #}
{% macro voltage_limits() -%}
    {%- set nominal_v = var('nominal_voltage_v') -%}
    {%- do return({
        'sustained_low_v': ((1 - var('voltage_band_share')) * nominal_v) | round(6),
        'sustained_high_v': ((1 + var('voltage_band_share')) * nominal_v) | round(6),
        'deep_low_v': ((1 - var('voltage_deep_share')) * nominal_v) | round(6),
        'deep_high_v': ((1 + var('voltage_deep_share')) * nominal_v) | round(6),
        'interruption_v': (var('voltage_interruption_share') * nominal_v) | round(6),
        'baseline_min_deviation_v': (var('voltage_baseline_min_deviation_share') * nominal_v) | round(6),
    }) -%}
{%- endmacro %}
