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

{#- the pattern is matched only against a string's text (a CASE evaluates it for those rows alone): most
    values are numbers, and a regular expression on each of them would cost more than the parse -#}
{% macro json_is_string_number(column, integer_only=false, is_text=false) -%}
    {#- is_text: `column` is the text itself (an expression), not the name of an `x` with its `x_text` -#}
    {%- set text = column if is_text else column ~ '_text' -%}
    case
        when left({{ text }}, 1) = '"'
            then coalesce({{ regexp_full_match(text, '"' ~ json_number_pattern(integer_only) ~ '"') }}, false)
        else false
    end
{%- endmacro %}

{% macro json_number(column) -%}
    case
        when left({{ column }}_text, 1) <> '"' then try_cast({{ column }}_text as double)
        {%- if not var('strict_json_types') %}
            when {{ json_is_string_number(column) }} then try_cast({{ trim_quotes(column ~ '_text') }} as double)
        {%- endif %}
    end
{%- endmacro %}

{#- the text of a JSON integer: a bigint written back as text is the usual case, found without the regular
    expression (which still decides the rest, such as an integer too large for a bigint) -#}
{% macro json_is_integer_text(column) -%}
    case
        when cast(try_cast({{ column }}_text as bigint) as {{ dbt.type_string() }}) = {{ column }}_text then true
        else {{ regexp_full_match(column ~ '_text', '-?[0-9]+') }}
    end
{%- endmacro %}

{% macro json_integer(column) -%}
    case
        when {{ json_is_integer_text(column) }} then try_cast({{ column }}_text as bigint)
        {%- if not var('strict_json_types') %}
            when {{ json_is_string_number(column, integer_only=true) }}
                then try_cast({{ trim_quotes(column ~ '_text') }} as bigint)
        {%- endif %}
    end
{%- endmacro %}

{% macro json_integer_overflows(column) -%}
    case
        when try_cast({{ trim_quotes(column ~ '_text') }} as bigint) is null then coalesce(
            {{ json_is_integer_text(column) }}
            {%- if not var('strict_json_types') %}
                or {{ json_is_string_number(column, integer_only=true) }}
            {%- endif %},
            false
        )
        else false
    end
{%- endmacro %}

{% macro json_is_null(column) -%}
    ({{ column }}_text is null)
{%- endmacro %}

{% macro json_is_not_number(column, integer_only=false) -%}
    coalesce(
        {%- if integer_only %}
            not {{ json_is_integer_text(column) }}
        {%- else %}
            {{ column }}_text is not null and try_cast({{ column }}_text as double) is null
        {%- endif %}
        {%- if not var('strict_json_types') %}
            and not {{ json_is_string_number(column, integer_only) }}
        {%- endif %},
        false
    )
{%- endmacro %}
