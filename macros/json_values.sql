{# Typed reads of raw JSON values with type drift made visible. Each takes the name of a column `x`
   and reads the value's JSON text from `x_text` (a JSON field cast to varchar: a number as written,
   a string with its quotes, null when the key is absent or null). A value is used when its text is
   a JSON number, or when it is a string whose whole content is the text of a JSON number (such as
   "229.5"): the same number, accepted and flagged (json_is_string_number), unless var
   `strict_json_types` is true. Anything else present is type drift. #}

{% macro json_number_pattern(integer_only=false) -%}
    {#- the text of a JSON number (RFC 8259), nothing before or after it -#}
    {%- if integer_only -%}
        -?(0|[1-9][0-9]*)
    {%- else -%}
        -?(0|[1-9][0-9]*)([.][0-9]+)?([eE][-+]?[0-9]+)?
    {%- endif -%}
{%- endmacro %}

{% macro json_is_string_number(column, integer_only=false) -%}
    coalesce({{ regexp_full_match(column ~ '_text', '"' ~ json_number_pattern(integer_only) ~ '"') }}, false)
{%- endmacro %}

{% macro json_number(column) -%}
    case
        when left({{ column }}_text, 1) <> '"' then try_cast({{ column }}_text as double)
        {%- if not var('strict_json_types') %}
            when {{ json_is_string_number(column) }} then try_cast({{ trim_quotes(column ~ '_text') }} as double)
        {%- endif %}
    end
{%- endmacro %}

{% macro json_integer(column) -%}
    case
        when {{ regexp_full_match(column ~ '_text', '-?[0-9]+') }} then try_cast({{ column }}_text as bigint)
        {%- if not var('strict_json_types') %}
            when {{ json_is_string_number(column, integer_only=true) }}
                then try_cast({{ trim_quotes(column ~ '_text') }} as bigint)
        {%- endif %}
    end
{%- endmacro %}

{% macro json_integer_overflows(column) -%}
    coalesce(
        (
            {{ regexp_full_match(column ~ '_text', '-?[0-9]+') }}
            {%- if not var('strict_json_types') %}
                or {{ json_is_string_number(column, integer_only=true) }}
            {%- endif %}
        )
        and try_cast({{ trim_quotes(column ~ '_text') }} as bigint) is null,
        false
    )
{%- endmacro %}

{% macro json_is_null(column) -%}
    ({{ column }}_text is null)
{%- endmacro %}

{% macro json_is_not_number(column, integer_only=false) -%}
    coalesce(
        {%- if integer_only %}
            not {{ regexp_full_match(column ~ '_text', '-?[0-9]+') }}
        {%- else %}
            {{ column }}_text is not null and try_cast({{ column }}_text as double) is null
        {%- endif %}
        {%- if not var('strict_json_types') %}
            and not {{ json_is_string_number(column, integer_only) }}
        {%- endif %},
        false
    )
{%- endmacro %}
