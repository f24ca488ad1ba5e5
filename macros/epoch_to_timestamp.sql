{# UNIX seconds (integer or fractional) to a UTC timestamp without time zone, to the microsecond. #}
{% macro epoch_to_timestamp(epoch_seconds) -%}
    make_timestamp(cast(round(({{ epoch_seconds }}) * 1000000) as bigint))
{%- endmacro %}
