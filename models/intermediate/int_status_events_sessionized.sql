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

all_sessions as (
    select
        session_id,
        charger_id,
        start_epoch_s,
        end_epoch_s,
        is_overlapping
    from {{ ref('int_sessions_deduplicated') }}
),

sessions as (
    select
        session_id,
        charger_id,
        start_epoch_s,
        end_epoch_s
    from all_sessions
    -- two sessions starting at the same second on one charger: the higher id takes the telemetry
    qualify row_number() over (partition by charger_id, start_epoch_s order by session_id desc) = 1
),

trusted_clock_events as (
    select * from status_events
    where not has_clock_error
),

-- ASOF join: for each measurement, the latest session of the same charger that started at or before
-- it. Both sides are sorted once, so the cost grows as n log n with the data, not with readings x
-- sessions per charger as a range join does.
events_matched_to_sessions as (
    {{ asof_latest_session('trusted_clock_events', 'sessions') }}
),

latest_session_matches as (
    select
        * exclude (matched_session_id, matched_start_epoch_s, matched_end_epoch_s),
        case when charger_epoch_s <= matched_end_epoch_s then matched_session_id end as latest_session_id,
        case when charger_epoch_s <= matched_end_epoch_s then matched_start_epoch_s end as latest_start_epoch_s
    from events_matched_to_sessions
),

-- A measurement after the end of the latest session started before it can still lie inside an
-- earlier, longer session (a nested overlap): look for the latest-started session containing it
-- among the overlapping sessions only, which are few.
overlapping_sessions as (
    select
        session_id,
        charger_id,
        start_epoch_s,
        end_epoch_s
    from all_sessions
    where is_overlapping
),

nested_session_matches as (
    select
        latest_session_matches.event_id,
        overlapping_sessions.session_id,
        overlapping_sessions.start_epoch_s
    from latest_session_matches
    inner join overlapping_sessions
        on
            latest_session_matches.charger_id = overlapping_sessions.charger_id
            and latest_session_matches.charger_epoch_s
            between overlapping_sessions.start_epoch_s and overlapping_sessions.end_epoch_s
    where latest_session_matches.latest_session_id is null
    qualify row_number() over (
        partition by latest_session_matches.event_id
        order by overlapping_sessions.start_epoch_s desc, overlapping_sessions.session_id desc
    ) = 1
),

final as (
    select
        latest_session_matches.* exclude (latest_session_id, latest_start_epoch_s),  -- noqa: RF02
        coalesce(latest_session_matches.latest_session_id, nested_session_matches.session_id) as session_id,
        latest_session_matches.charger_epoch_s
        - coalesce(latest_session_matches.latest_start_epoch_s, nested_session_matches.start_epoch_s) as elapsed_s,
        case
            when coalesce(latest_session_matches.latest_session_id, nested_session_matches.session_id) is not null
                then 'session'
            else 'idle'
        end as attribution
    from latest_session_matches
    left join nested_session_matches on latest_session_matches.event_id = nested_session_matches.event_id
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
