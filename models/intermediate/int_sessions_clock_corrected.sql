{#- One row per kept charging session, with its charger's clock offset and its times corrected to true time. -#}
{#- Incremental: the sessions of a changed charger that end at or after its rebuild time (see
    charger_change_windows) are rebuilt, from the earliest session whose clock offset moved when the
    charger's clock is corrected (each of its sessions is matched again, and compared); each rebuilt
    row is stamped, and the session marts rebuild the sessions stamped since their own last build. -#}
{%- if model.resource_type != 'unit_test' -%}
    {%- set classified_readings = ref('int_readings_classified') -%}
    {%- set classified_sessions = ref('int_sessions_classified') -%}
{%- endif %}
{{ config(
    materialized=incremental_materialization(),
    incremental_strategy='delete+insert',
    unique_key='session_id',
    on_schema_change='sync_all_columns',
    post_hook=["{{ record_watermark() }}"],
) }}
with

{%- if is_incremental() %}
line_change_windows as (
    {{ charger_change_windows() }}
),

corrected_chargers as (
    {{ corrected_clock_chargers(this) }}
),

-- The sessions some of whose readings were rewritten since this model last took in changes (a
-- reading's clock offset can move without a line of its own changing).
rewritten_reading_sessions as (
    select distinct integrated.session_id
    from {{ ref('int_session_readings_integrated') }} as integrated
    where {{ refreshed_since_last_build('integrated.refreshed_at') }}
),
{%- endif %}

sessions as (
    select deduplicated.*
    from {{ ref('int_sessions_deduplicated') }} as deduplicated
    {%- if is_incremental() %}
        inner join line_change_windows
            on
                deduplicated.charger_id = line_change_windows.charger_id
                and (
                    deduplicated.ended_epoch_s >= line_change_windows.rebuilt_from_epoch_s
                    or deduplicated.charger_id in (select corrected_chargers.charger_id from corrected_chargers)
                    or deduplicated.session_id in (
                        select rewritten_reading_sessions.session_id from rewritten_reading_sessions
                    )
                )
    {%- endif %}
),

session_reading_offsets as (
    select
        session_id,
        mode(clock_offset_s) as clock_offset_s
    from {{ ref('int_session_readings_integrated') }}
    where session_id in (select sessions.session_id from sessions)
    group by session_id
),

clock_periods as (
    select
        charger_id,
        first_measured_epoch_s,
        clock_offset_s
    from {{ ref('int_charger_clock_periods') }}
    where {{ is_charger_changed() }}
),

-- A session event carries only the charger's clock, the clock its readings were measured by: it
-- takes the offset of its readings. Without readings, the clock period of its charger that started
-- last, by the charger's clock, at or before the session's start; without one, the clock is right.
sessions_with_reading_offsets as (
    select
        sessions.*,
        session_reading_offsets.clock_offset_s as reading_offset_s
    from sessions
    left join session_reading_offsets on sessions.session_id = session_reading_offsets.session_id
),

sessions_with_clock_periods as (
    {{ asof_join(
        'sessions_with_reading_offsets', 'clock_periods', keys=[('charger_id', 'charger_id')],
        left_value='sessions_with_reading_offsets.started_epoch_s',
        right_value='clock_periods.first_measured_epoch_s',
        right_columns={'clock_period_offset_s': 'clock_offset_s'},
    ) }}
),

periods_matched as (
    select
        {{ star_except(['reading_offset_s', 'clock_period_offset_s']) }},
        coalesce(reading_offset_s, clock_period_offset_s, 0) as clock_offset_s
    from sessions_with_clock_periods
),

{%- if is_incremental() %}

offset_changes as (
    {{ clock_offset_changes(
        'periods_matched', this, 'corrected_chargers', key='session_id', time_column='ended_epoch_s'
    ) }}
),

-- The changed lines' windows again, now with the rows whose offset moved.
change_windows as (
    {{ charger_change_windows('offset_changes') }}
),
{%- endif %}

final as (
    select
        periods_matched.*,
        periods_matched.clock_offset_s <> 0 as is_clock_corrected,
        {{ epoch_to_timestamp('periods_matched.started_epoch_s - periods_matched.clock_offset_s') }}
            as corrected_started_at,
        {{ epoch_to_timestamp('periods_matched.ended_epoch_s - periods_matched.clock_offset_s') }}
            as corrected_ended_at,
        {{ build_refreshed_at() }} as refreshed_at
    from periods_matched
    {%- if is_incremental() %}
        inner join change_windows on periods_matched.charger_id = change_windows.charger_id
    where
        periods_matched.ended_epoch_s >= change_windows.rebuilt_from_epoch_s
        or periods_matched.session_id in (select rewritten_reading_sessions.session_id from rewritten_reading_sessions)
    {%- endif %}
)

select * from final  -- noqa: AM04
