{# Typed reads of JSON values with type drift made visible: a value is used only when its JSON type is the expected one. #}

{% macro json_number(value) -%}
    case when json_type({{ value }}) in ('BIGINT', 'UBIGINT', 'DOUBLE') then cast({{ value }} as double) end
{%- endmacro %}

{% macro json_integer(value) -%}
    case when json_type({{ value }}) in ('BIGINT', 'UBIGINT') then cast({{ value }} as bigint) end
{%- endmacro %}

{% macro json_is_null(value) -%}
    coalesce(json_type({{ value }}) = 'NULL', true)
{%- endmacro %}

{% macro json_is_not_number(value, integer_only=false) -%}
    coalesce(
        json_type({{ value }}) not in ('NULL', 'BIGINT', 'UBIGINT'{% if not integer_only %}, 'DOUBLE'{% endif %}),
        false
    )
{%- endmacro %}
