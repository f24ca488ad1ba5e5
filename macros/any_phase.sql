{# True when a condition holds on any of phases 1-3; `{p}` in the condition stands for the phase number. #}
{% macro any_phase(condition) -%}
    coalesce(
        {%- for phase in [1, 2, 3] %}
        ({{ condition | replace('{p}', phase | string) }}){% if not loop.last %} or{% endif %}
        {%- endfor %},
        false
    )
{%- endmacro %}
