{#- One row per input file and top-level JSON key that the documented layouts do not have. -#}
with

status_lines as (
    select * from {{ ref('int_status_events_classified') }}
),

session_lines as (
    select * from {{ ref('int_sessions_classified') }}
),

lines_with_unexpected_keys as (
    select
        'status' as log_stream,
        source_file,
        line_number,
        unexpected_keys
    from status_lines
    where has_unexpected_keys
    union all
    select
        'session' as log_stream,
        source_file,
        line_number,
        unexpected_keys
    from session_lines
    where has_unexpected_keys
),

keys_unnested as (
    select
        log_stream,
        source_file,
        line_number,
        unnest(unexpected_keys) as json_key
    from lines_with_unexpected_keys
),

final as (
    select
        cast(log_stream as varchar) as log_stream,
        cast(source_file as varchar) as source_file,
        cast(json_key as varchar) as json_key,
        cast(count(*) as bigint) as line_count,
        cast(min(line_number) as bigint) as first_line_number
    from keys_unnested
    group by log_stream, source_file, json_key
)

select * from final
