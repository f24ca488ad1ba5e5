{# True when a value moved more than the threshold (%) against the previous one, and more than an absolute deadband. #}
{% macro is_big_change(previous_value, new_value, deadband) -%}
    coalesce(
        abs({{ new_value }} - {{ previous_value }}) > {{ deadband }}
        and (
            {{ previous_value }} = 0
            -- rounded so that exactly the threshold is not "more than" it despite binary fractions
            or round(abs({{ new_value }} - {{ previous_value }}) / abs({{ previous_value }}) * 100, 6)
            > {{ var('big_change_threshold_pct') }}
        ),
        false
    )
{%- endmacro %}
