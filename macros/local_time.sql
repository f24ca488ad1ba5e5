{# A UTC timestamp (without time zone) as an instant: a timestamptz on DuckDB; on Spark, whose
   TIMESTAMP is an instant already (shown in the session's zone, UTC here), the timestamp itself. #}
{% macro utc_instant(timestamp) -%}
    {{ return(adapter.dispatch('utc_instant')(timestamp)) }}
{%- endmacro %}

{% macro default__utc_instant(timestamp) -%}
    {{ timestamp }} at time zone 'UTC'
{%- endmacro %}

{% macro spark__utc_instant(timestamp) -%}
    {{ timestamp }}
{%- endmacro %}

{# The local date, in an IANA time zone, of an instant (utc_instant). #}
{% macro local_date(time_zone, instant) -%}
    {{ return(adapter.dispatch('local_date')(time_zone, instant)) }}
{%- endmacro %}

{% macro default__local_date(time_zone, instant) -%}
    cast(timezone({{ time_zone }}, {{ instant }}) as date)
{%- endmacro %}

{% macro spark__local_date(time_zone, instant) -%}
    cast(from_utc_timestamp({{ instant }}, {{ time_zone }}) as date)
{%- endmacro %}

{# The instant (utc_instant) a local date begins in an IANA time zone: its local midnight. Two in a
   row are 23, 24 or 25 hours apart, as the clocks change. #}
{% macro local_midnight(time_zone, local_date) -%}
    {{ return(adapter.dispatch('local_midnight')(time_zone, local_date)) }}
{%- endmacro %}

{% macro default__local_midnight(time_zone, local_date) -%}
    timezone({{ time_zone }}, cast({{ local_date }} as timestamp))
{%- endmacro %}

{% macro spark__local_midnight(time_zone, local_date) -%}
    to_utc_timestamp(cast({{ local_date }} as timestamp), {{ time_zone }})
{%- endmacro %}

{# One row per date from `first_date` to `last_date` (inclusive): a set-returning select expression. #}
{% macro each_date(first_date, last_date) -%}
    {{ return(adapter.dispatch('each_date')(first_date, last_date)) }}
{%- endmacro %}

{% macro default__each_date(first_date, last_date) -%}
    cast(unnest(generate_series({{ first_date }}, {{ last_date }}, interval 1 day)) as date)
{%- endmacro %}

{% macro spark__each_date(first_date, last_date) -%}
    explode(sequence({{ first_date }}, {{ last_date }}, interval 1 day))
{%- endmacro %}
