{# UNIX seconds (integer or fractional) to a UTC timestamp without time zone, to the microsecond. #}
{% macro epoch_to_timestamp(epoch_seconds) -%}
    {{ return(adapter.dispatch('epoch_to_timestamp')(epoch_seconds)) }}
{%- endmacro %}

{% macro default__epoch_to_timestamp(epoch_seconds) -%}
    make_timestamp(cast(round(({{ epoch_seconds }}) * 1000000) as bigint))
{%- endmacro %}

{#- Spark's TIMESTAMP is an instant shown in the session time zone, UTC in this project's profile -#}
{% macro spark__epoch_to_timestamp(epoch_seconds) -%}
    timestamp_micros(cast(round(({{ epoch_seconds }}) * 1000000) as bigint))
{%- endmacro %}
