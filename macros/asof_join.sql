{# The rows of `left` (a CTE or relation name), each with the columns `right_columns` (alias: column
   of `right`) of the row of `right` with the same `keys` (pairs of left and right column names)
   and the largest `right_value` at or below its `left_value` (expressions over the qualified
   columns of each side); `join_type` left keeps a row without a match (right columns null), inner
   drops it. A whole select, the body of a CTE. #}
{% macro asof_join(left, right, keys, left_value, right_value, right_columns, join_type='left') -%}
    {{ return(adapter.dispatch('asof_join')(left, right, keys, left_value, right_value, right_columns, join_type)) }}
{%- endmacro %}

{#- DuckDB's ASOF join sorts both sides once: n log n. -#}
{% macro default__asof_join(left, right, keys, left_value, right_value, right_columns, join_type) -%}
    select
        {{ left }}.*,
        {%- for alias, column in right_columns.items() %}
            {{ right }}.{{ column }} as {{ alias }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ left }}
    asof {{ join_type }} join {{ right }}
        on
            {%- for left_key, right_key in keys %}
                {{ left }}.{{ left_key }} = {{ right }}.{{ right_key }} and
            {%- endfor %}
            {{ left_value }} >= {{ right_value }}
{%- endmacro %}

{#- Spark has no ASOF join: both sides are stacked into one relation sorted by key and value, a
    right row before a left row of the same value, and each left row takes the last right row seen
    so far (`last ... ignore nulls` over the sorted partition). One sort of both sides, n log n,
    where a range join would compare every left row with every right row of its key. -#}
{% macro spark__asof_join(left, right, keys, left_value, right_value, right_columns, join_type) -%}
    select
        asof_matched.left_row.*,
        {%- for alias in right_columns %}
            asof_matched.right_row.{{ alias }} as {{ alias }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from (
        select
            asof_stacked.asof_side,
            asof_stacked.left_row,
            case when asof_stacked.asof_value is not null then last(asof_stacked.right_row, true) over (
                partition by {% for key in keys %}asof_stacked.asof_key_{{ loop.index }}{% if not loop.last %}, {% endif %}{% endfor %}
                order by asof_stacked.asof_value asc, asof_stacked.asof_side asc
                rows between unbounded preceding and current row
            ) end as right_row
        from (
            select
                {%- for left_key, right_key in keys %}
                    {{ left }}.{{ left_key }} as asof_key_{{ loop.index }},
                {%- endfor %}
                {{ left_value }} as asof_value,
                1 as asof_side,
                struct({{ left }}.*) as left_row,
                null as right_row
            from {{ left }}
            union all
            select
                {%- for left_key, right_key in keys %}
                    {{ right }}.{{ right_key }} as asof_key_{{ loop.index }},
                {%- endfor %}
                {{ right_value }} as asof_value,
                0 as asof_side,
                null as left_row,
                named_struct(
                    {%- for alias, column in right_columns.items() %}
                        '{{ alias }}', {{ right }}.{{ column }}{% if not loop.last %},{% endif %}
                    {%- endfor %}
                ) as right_row
            from {{ right }}
            where {{ right_value }} is not null
        ) as asof_stacked
    ) as asof_matched
    where
        asof_matched.asof_side = 1
        {%- if join_type == 'inner' %}
            and asof_matched.right_row is not null
        {%- endif %}
{%- endmacro %}
