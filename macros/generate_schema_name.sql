{# A model's schema is its configured schema name as written (`staging`, `intermediate`, `marts`),
   not dbt's default `<target schema>_<name>`: BI tools see a schema named for what it holds. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
