{#- One row per input file and JSON key that the documented layouts do not have. -#}
with

log_lines as (
    select * from {{ ref('int_log_lines_classified') }}
),

keys_unnested as (
    select
        log_stream,
        source_file,
        line_number,
        {{ unnest_list('unexpected_keys') }} as json_key
    from log_lines
    where {{ list_length('unexpected_keys') }} > 0
),

final as (
    select
        log_stream,
        source_file,
        json_key,
        count(*) as line_count,
        min(line_number) as first_line_number
    from keys_unnested
    group by log_stream, source_file, json_key
)

select * from final
