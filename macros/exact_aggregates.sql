{# Sums and means of doubles that do not depend on the order rows are added in (parallel aggregation
   adds doubles in any order, and the last bits would change from one build to the next): values are
   rounded to `decimals` places and added as exact decimals. `over` names a window for a running sum. #}

{% macro exact_sum(expression, decimals=6, over=none) -%}
    cast(
        sum(cast(round(({{ expression }}) * 1e{{ decimals }}) as decimal(38, 0))){% if over %} over {{ over }}{% endif %} as double
    ) / 1e{{ decimals }}
{%- endmacro %}

{% macro exact_avg(expression, decimals=6) -%}
    {{ exact_sum(expression, decimals) }} / nullif(count({{ expression }}), 0)
{%- endmacro %}
