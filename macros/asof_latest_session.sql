{# Each event of `events` with the latest session of the same charger starting at or before it (matched_* columns). #}
{% macro asof_latest_session(events, sessions) -%}
    {{ return(adapter.dispatch('asof_latest_session', 'charger_telemetry')(events, sessions)) }}
{%- endmacro %}

{% macro default__asof_latest_session(events, sessions) -%}
    select
        {{ events }}.*,
        {{ sessions }}.session_id as matched_session_id,
        {{ sessions }}.start_epoch_s as matched_start_epoch_s,
        {{ sessions }}.end_epoch_s as matched_end_epoch_s
    from {{ events }}
    asof left join {{ sessions }}
        on
            {{ events }}.charger_id = {{ sessions }}.charger_id
            and {{ events }}.charger_epoch_s >= {{ sessions }}.start_epoch_s
{%- endmacro %}
