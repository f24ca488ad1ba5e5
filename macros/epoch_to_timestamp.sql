{# UNIX seconds (integer or fractional) to a UTC timestamp without time zone, engine by engine. #}
{% macro epoch_to_timestamp(epoch_seconds) -%}
    {{ return(adapter.dispatch('epoch_to_timestamp', 'charger_telemetry')(epoch_seconds)) }}
{%- endmacro %}

{% macro default__epoch_to_timestamp(epoch_seconds) -%}
    make_timestamp(cast(round({{ epoch_seconds }} * 1000000) as bigint))
{%- endmacro %}

{% macro spark__epoch_to_timestamp(epoch_seconds) -%}
    timestamp_micros(cast(round({{ epoch_seconds }} * 1000000) as bigint))
{%- endmacro %}
