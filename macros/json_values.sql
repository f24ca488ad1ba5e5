{# Typed reads of raw JSON values with type drift made visible. Each takes the name of a JSON column
   `x` and expects its JSON type, computed once, in a column `x_type` (json_type(x)). #}

{% macro json_number(column) -%}
    case when {{ column }}_type in ('BIGINT', 'UBIGINT', 'DOUBLE') then cast({{ column }} as double) end
{%- endmacro %}

{% macro json_integer(column) -%}
    case when {{ column }}_type in ('BIGINT', 'UBIGINT') then try_cast({{ column }} as bigint) end
{%- endmacro %}

{% macro json_integer_overflows(column) -%}
    coalesce({{ column }}_type = 'UBIGINT' and try_cast({{ column }} as bigint) is null, false)
{%- endmacro %}

{% macro json_is_null(column) -%}
    coalesce({{ column }}_type = 'NULL', true)
{%- endmacro %}

{% macro json_is_not_number(column, integer_only=false) -%}
    coalesce(
        {{ column }}_type not in ('NULL', 'BIGINT', 'UBIGINT'{% if not integer_only %}, 'DOUBLE'{% endif %}),
        false
    )
{%- endmacro %}
