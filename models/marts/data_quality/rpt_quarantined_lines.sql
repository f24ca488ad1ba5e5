{#- One row per raw line that was rejected, from either stream. -#}
with

status_lines as (
    select * from {{ ref('int_status_events_classified') }}
),

session_lines as (
    select * from {{ ref('int_sessions_classified') }}
),

quarantined_status_lines as (
    select
        'status' as log_stream,
        source_file,
        line_number,
        disposition_reason as reason,
        event_id as record_id,
        charger_id,
        raw_line
    from status_lines
    where disposition = 'quarantined'
),

quarantined_session_lines as (
    select
        'session' as log_stream,
        source_file,
        line_number,
        disposition_reason as reason,
        session_id as record_id,
        charger_id,
        raw_line
    from session_lines
    where disposition = 'quarantined'
),

quarantined_lines as (
    select * from quarantined_status_lines
    union all
    select * from quarantined_session_lines
),

final as (
    select
        cast(log_stream as varchar) as log_stream,
        cast(source_file as varchar) as source_file,
        cast(line_number as bigint) as line_number,
        cast(reason as varchar) as reason,
        cast(record_id as bigint) as record_id,
        cast(charger_id as bigint) as charger_id,
        cast(raw_line as varchar) as raw_line
    from quarantined_lines
)

select * from final
