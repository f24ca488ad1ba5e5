{#- The line ledger: one row per non-blank raw line of both streams, and what became of it. -#}
{#- Incremental: a build takes in the lines the classifications (re)wrote since its last build. -#}
{{ config(
    materialized=incremental_materialization(),
    incremental_strategy='delete+insert',
    unique_key=['source_file', 'line_number'],
    on_schema_change='sync_all_columns',
    post_hook=["{{ record_watermark() }}"],
) }}
with

readings as (
    select
        source_file,
        line_number,
        reading_id,
        charger_id,
        line_layout,
        reason_code,
        raw_line,
        unexpected_keys,
        has_string_number
    from {{ ref('int_readings_classified') }}
    where {{ refreshed_since_last_build('refreshed_at') }}
),

sessions as (
    select
        source_file,
        line_number,
        session_id,
        charger_id,
        line_layout,
        reason_code,
        raw_line,
        unexpected_keys,
        has_string_number
    from {{ ref('int_sessions_classified') }}
    where {{ refreshed_since_last_build('refreshed_at') }}
),

reasons as (
    select
        reason_code,
        disposition
    from {{ ref('quarantine_reasons') }}
),

lines as (
    select
        'status' as log_stream,
        source_file,
        line_number,
        reading_id as record_id,
        charger_id,
        line_layout,
        reason_code,
        raw_line,
        unexpected_keys,
        has_string_number
    from readings
    union all
    select
        'session' as log_stream,
        source_file,
        line_number,
        session_id as record_id,
        charger_id,
        line_layout,
        reason_code,
        raw_line,
        unexpected_keys,
        has_string_number
    from sessions
),

final as (
    select
        lines.log_stream,
        lines.source_file,
        lines.line_number,
        lines.record_id,
        lines.charger_id,
        lines.line_layout,
        lines.reason_code,
        coalesce(reasons.disposition, 'clean') as disposition,
        -- the raw text of a quarantined line is its record; a duplicate's is that of the kept row
        case when reasons.disposition = 'quarantined' then lines.raw_line end as raw_line,
        lines.unexpected_keys,
        lines.has_string_number
    from lines
    left join reasons on lines.reason_code = reasons.reason_code
)

select * from final
