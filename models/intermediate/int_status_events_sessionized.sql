{#- One row per distinct status measurement, attributed to the charging session it belongs to, or labelled idle. -#}
with

-- Only what the profiles and briefings read: this table holds every kept measurement, so each
-- column costs (lineage and plausibility flags stay in int_status_events_classified).
status_events as (
    select
        event_id,
        charger_id,
        status_layout,
        phase_count,
        charger_epoch_s,
        charger_at,
        server_epoch_s,
        {%- for phase in [1, 2, 3] %}
            current_l{{ phase }}_a,
            voltage_l{{ phase }}_v,
            temperature_l{{ phase }}_c,
        {%- endfor %}
        is_late_arrival,
        has_clock_error,
        has_missing_measurement
    from {{ ref('int_status_events_deduplicated') }}
),

sessions as (
    select
        session_id,
        charger_id,
        start_epoch_s,
        end_epoch_s
    from {{ ref('int_sessions_deduplicated') }}
    -- two sessions starting at the same second on one charger: the higher id takes the telemetry
    qualify row_number() over (partition by charger_id, start_epoch_s order by session_id desc) = 1
),

trusted_clock_events as (
    select * from status_events
    where not has_clock_error
),

-- ASOF join: for each measurement, the latest session of the same charger that started at or before
-- it. Both sides are sorted once, so the cost grows as n log n with the data, not with readings x
-- sessions per charger as a range join does. When sessions overlap, the later-started session takes
-- over from its start (the earlier one is cut there and flagged in the briefing).
events_matched_to_sessions as (
    {{ asof_latest_session('trusted_clock_events', 'sessions') }}
),

final as (
    select
        events_matched_to_sessions.* exclude (matched_session_id, matched_end_epoch_s, matched_start_epoch_s),
        case
            when events_matched_to_sessions.charger_epoch_s <= events_matched_to_sessions.matched_end_epoch_s
                then events_matched_to_sessions.matched_session_id
        end as session_id,
        case
            when events_matched_to_sessions.charger_epoch_s <= events_matched_to_sessions.matched_end_epoch_s
                then events_matched_to_sessions.charger_epoch_s - events_matched_to_sessions.matched_start_epoch_s
        end as elapsed_s,
        case
            when events_matched_to_sessions.charger_epoch_s <= events_matched_to_sessions.matched_end_epoch_s
                then 'session'
            else 'idle'
        end as attribution
    from events_matched_to_sessions
    union all by name
    select
        status_events.*,
        null as session_id,
        null as elapsed_s,
        'clock_error' as attribution
    from status_events
    where status_events.has_clock_error
)

select * from final  -- noqa: AM04
