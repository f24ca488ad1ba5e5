{#- One row per charging session with readings of its charger whose charger clock was wrong and that
    reached the server during the session (or up to late_arrival_threshold_s after its end). -#}
with

clock_error_readings as (
    select
        charger_id,
        received_epoch_s
    from {{ ref('int_readings_deduplicated') }}
    where has_clock_error
),

sessions as (
    select
        session_id,
        charger_id,
        started_epoch_s,
        ended_epoch_s
    from {{ ref('int_sessions_deduplicated') }}
),

final as (
    select
        sessions.session_id,
        count(*) as clock_error_reading_count
    from sessions
    inner join clock_error_readings
        on
            sessions.charger_id = clock_error_readings.charger_id
            and clock_error_readings.received_epoch_s
            between sessions.started_epoch_s
            and sessions.ended_epoch_s + {{ var('late_arrival_threshold_s') }}
    group by sessions.session_id
)

select * from final
