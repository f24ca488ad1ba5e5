{# The local date, in an IANA time zone, of an instant given as a timestamptz. #}
{% macro local_date(time_zone, instant) -%}
    cast(timezone({{ time_zone }}, {{ instant }}) as date)
{%- endmacro %}

{# The instant (timestamptz) a local date begins in an IANA time zone: its local midnight. Two in a
   row are 23, 24 or 25 hours apart, as the clocks change. #}
{% macro local_midnight(time_zone, local_date) -%}
    timezone({{ time_zone }}, cast({{ local_date }} as timestamp))
{%- endmacro %}
