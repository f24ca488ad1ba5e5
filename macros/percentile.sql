{# Continuous percentile (0-1) of a column within a group, engine by engine. #}
{% macro percentile(column, fraction) -%}
    {{ return(adapter.dispatch('percentile', 'charger_telemetry')(column, fraction)) }}
{%- endmacro %}

{% macro default__percentile(column, fraction) -%}
    quantile_cont({{ column }}, {{ fraction }})
{%- endmacro %}

{% macro spark__percentile(column, fraction) -%}
    percentile({{ column }}, {{ fraction }})
{%- endmacro %}
