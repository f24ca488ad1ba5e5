{# Typed reads of raw JSON values with type drift made visible. Each takes the name of a column `x`
   and reads the value's JSON text from `x_text` (a JSON field cast to varchar: a number as written,
   a string with its quotes, null when the key is absent or null). A value is used only when its
   text is a JSON number; anything else present is type drift. #}

{% macro json_number(column) -%}
    try_cast({{ column }}_text as double)
{%- endmacro %}

{% macro json_integer(column) -%}
    case when regexp_full_match({{ column }}_text, '-?[0-9]+') then try_cast({{ column }}_text as bigint) end
{%- endmacro %}

{% macro json_integer_overflows(column) -%}
    coalesce(
        regexp_full_match({{ column }}_text, '-?[0-9]+') and try_cast({{ column }}_text as bigint) is null,
        false
    )
{%- endmacro %}

{% macro json_is_null(column) -%}
    ({{ column }}_text is null)
{%- endmacro %}

{% macro json_is_not_number(column, integer_only=false) -%}
    coalesce(
        {%- if integer_only %}
            not regexp_full_match({{ column }}_text, '-?[0-9]+'),
        {%- else %}
            {{ column }}_text is not null and try_cast({{ column }}_text as double) is null,
        {%- endif %}
        false
    )
{%- endmacro %}
