{#- One row per kept reading measured inside a charging session, with its session. -#}
{#- A table, read by int_session_readings_integrated; incremental builds rebuild each changed charger
    from its earliest changed reading or session start on. Readings outside every session (an idle
    charger) are not attributed. Readings and session events share the charger's clock, right or
    wrong, so they are matched in that clock. -#}
{{ charger_window_config() }}
with

{%- if is_incremental() %}
corrected_chargers as (
    {{ corrected_clock_chargers(this) }}
),

offset_changes as (
    {{ clock_offset_changes(ref('int_readings_clock_corrected'), this, 'corrected_chargers') }}
),

change_windows as (
    {{ charger_change_windows('offset_changes') }}
),
{%- endif %}

readings as (
    select
        corrected.reading_id,
        corrected.charger_id,
        corrected.line_layout,
        corrected.phase_count,
        corrected.measured_epoch_s,
        corrected.measured_at,
        corrected.corrected_measured_at,
        corrected.clock_offset_s,
        corrected.is_clock_corrected,
        {%- for phase in [1, 2, 3] %}
            corrected.current_l{{ phase }}_a,
            corrected.voltage_l{{ phase }}_v,
            corrected.temperature_l{{ phase }}_c,
        {%- endfor %}
        corrected.is_late_arrival,
        corrected.has_missing_measurement,
        corrected.is_implausible,
        {%- if is_incremental() %}
            change_windows.rebuilt_from_epoch_s
        {%- else %}
            cast(0 as bigint) as rebuilt_from_epoch_s
        {%- endif %}
    from {{ ref('int_readings_clock_corrected') }} as corrected
    {%- if is_incremental() %}
        inner join change_windows
            on
                corrected.charger_id = change_windows.charger_id
                and corrected.measured_epoch_s >= change_windows.rebuilt_from_epoch_s
    {%- endif %}
),

sessions as (
    select
        session_id,
        charger_id,
        started_epoch_s,
        ended_epoch_s,
        is_overlapping
    from {{ ref('int_sessions_deduplicated') }}
    where {{ is_charger_changed() }}
),

-- Two sessions starting in the same second on one charger: the higher id takes the readings.
sessions_by_start as (
    select * from sessions
    qualify row_number() over (partition by charger_id, started_epoch_s order by session_id desc) = 1
),

-- ASOF join: each reading with the latest session of its charger started at or before it (both
-- sides sorted once, n log n), kept when the reading is not after that session's end.
latest_sessions as (
    {{ asof_join(
        'readings', 'sessions_by_start', keys=[('charger_id', 'charger_id')],
        left_value='readings.measured_epoch_s',
        right_value='sessions_by_start.started_epoch_s',
        right_columns={
            'session_id': 'session_id',
            'started_epoch_s': 'started_epoch_s',
            'session_ended_epoch_s': 'ended_epoch_s',
        },
        join_type='inner',
    ) }}
),

latest_session_matches as (
    select {{ star_except(['session_ended_epoch_s']) }}
    from latest_sessions
    where measured_epoch_s <= session_ended_epoch_s
),

-- A reading after the end of the latest session started before it can still lie inside an earlier,
-- longer session (a nested overlap): look among the overlapping sessions only, which are few.
nested_session_matches as (
    select
        readings.*,
        sessions.session_id,
        sessions.started_epoch_s
    from readings
    inner join sessions
        on
            readings.charger_id = sessions.charger_id
            and readings.measured_epoch_s between sessions.started_epoch_s and sessions.ended_epoch_s
    where
        sessions.is_overlapping
        and readings.reading_id not in (select latest_session_matches.reading_id from latest_session_matches)
    qualify row_number() over (
        partition by readings.reading_id
        order by sessions.started_epoch_s desc, sessions.session_id desc
    ) = 1
),

matched as (
    select * from latest_session_matches
    union all
    select * from nested_session_matches
),

final as (
    select
        {{ star_except(['started_epoch_s']) }},
        measured_epoch_s - started_epoch_s as elapsed_s
    from matched
)

select * from final  -- noqa: AM04
