{#- One row per kept charging session, with its charger's clock offset and its times corrected to true time. -#}
{{ charger_scoped_config(on_schema_change='sync_all_columns') }}
with

sessions as (
    select * from {{ ref('int_sessions_deduplicated') }}
    where {{ is_charger_changed() }}
),

session_reading_offsets as (
    select
        session_id,
        mode(clock_offset_s) as clock_offset_s
    from {{ ref('int_session_readings_integrated') }}
    where {{ is_charger_changed() }}
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
periods_matched as (
    select
        sessions.*,
        coalesce(session_reading_offsets.clock_offset_s, clock_periods.clock_offset_s, 0) as clock_offset_s
    from sessions
    left join session_reading_offsets on sessions.session_id = session_reading_offsets.session_id
    asof left join clock_periods
        on
            sessions.charger_id = clock_periods.charger_id
            and sessions.started_epoch_s >= clock_periods.first_measured_epoch_s
),

final as (
    select
        *,
        clock_offset_s <> 0 as is_clock_corrected,
        {{ epoch_to_timestamp('started_epoch_s - clock_offset_s') }} as corrected_started_at,
        {{ epoch_to_timestamp('ended_epoch_s - clock_offset_s') }} as corrected_ended_at
    from periods_matched
)

select * from final  -- noqa: AM04
