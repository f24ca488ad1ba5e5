{#- One row per raw line that was rejected, from either stream. -#}
with

log_lines as (
    select * from {{ ref('int_log_lines_classified') }}
),

final as (
    select
        log_stream,
        source_file,
        line_number,
        reason_code,
        record_id,
        charger_id,
        raw_line
    from log_lines
    where disposition = 'quarantined'
)

select * from final
