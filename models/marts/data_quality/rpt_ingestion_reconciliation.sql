{#- One row per input file of either stream: its lines, and where each one went. -#}
with

log_files as (
    select * from {{ ref('stg_charger_logs__files') }}
),

-- Raw lines are counted from the staging views, a second read of the files independent of the
-- classified tables; DuckDB reads only the line text for it, without parsing the JSON.
status_lines as (
    select source_file from {{ ref('stg_charger_logs__status_events') }}
),

session_lines as (
    select source_file from {{ ref('stg_charger_logs__sessions') }}
),

status_classified as (
    select * from {{ ref('int_status_events_classified') }}
),

session_classified as (
    select * from {{ ref('int_sessions_classified') }}
),

clean_status_events as (
    select * from {{ ref('int_status_events_deduplicated') }}
),

clean_sessions as (
    select * from {{ ref('int_sessions_deduplicated') }}
),

quarantined_lines as (
    select * from {{ ref('rpt_quarantined_lines') }}
),

-- Each count comes from the model that holds those rows, so a row lost between models shows here.
raw_line_counts as (
    select
        source_file,
        count(*) as raw_lines
    from status_lines
    group by source_file
    union all
    select
        source_file,
        count(*) as raw_lines
    from session_lines
    group by source_file
),

clean_row_counts as (
    select
        source_file,
        count(*) as clean_rows
    from clean_status_events
    group by source_file
    union all
    select
        source_file,
        count(*) as clean_rows
    from clean_sessions
    group by source_file
),

quarantine_counts as (
    select
        source_file,
        count(*) as quarantined_rows
    from quarantined_lines
    group by source_file
),

duplicate_counts as (
    select
        source_file,
        count(*) filter (where disposition_reason = 'exact_duplicate') as exact_duplicate_rows,
        count(*) filter (where disposition_reason = 'resent_duplicate') as resent_duplicate_rows
    from status_classified
    where disposition = 'duplicate'
    group by source_file
    union all
    select
        source_file,
        count(*) filter (where disposition_reason = 'exact_duplicate') as exact_duplicate_rows,
        0 as resent_duplicate_rows
    from session_classified
    where disposition = 'duplicate'
    group by source_file
),

-- The layout of each line that parsed as a JSON object (sessions have the flat layout only).
layout_counts as (
    select
        source_file,
        count(*) filter (where status_layout = 'flat') as flat_layout_lines,
        count(*) filter (where status_layout = 'nested') as nested_layout_lines
    from status_classified
    group by source_file
    union all
    select
        source_file,
        count(*) filter (where disposition_reason is distinct from 'malformed_json') as flat_layout_lines,
        0 as nested_layout_lines
    from session_classified
    group by source_file
),

final as (
    select
        cast(log_files.log_stream as varchar) as log_stream,
        cast(log_files.source_file as varchar) as source_file,
        log_files.is_gzip,
        cast(coalesce(raw_line_counts.raw_lines, 0) as bigint) as raw_lines,
        cast(coalesce(clean_row_counts.clean_rows, 0) as bigint) as clean_rows,
        cast(coalesce(quarantine_counts.quarantined_rows, 0) as bigint) as quarantined_rows,
        cast(coalesce(duplicate_counts.exact_duplicate_rows, 0) as bigint) as exact_duplicate_rows,
        cast(coalesce(duplicate_counts.resent_duplicate_rows, 0) as bigint) as resent_duplicate_rows,
        cast(coalesce(layout_counts.flat_layout_lines, 0) as bigint) as flat_layout_lines,
        cast(coalesce(layout_counts.nested_layout_lines, 0) as bigint) as nested_layout_lines,
        coalesce(raw_line_counts.raw_lines, 0) = (
            coalesce(clean_row_counts.clean_rows, 0)
            + coalesce(quarantine_counts.quarantined_rows, 0)
            + coalesce(duplicate_counts.exact_duplicate_rows, 0)
            + coalesce(duplicate_counts.resent_duplicate_rows, 0)
        ) as is_reconciled
    from log_files
    left join raw_line_counts on log_files.source_file = raw_line_counts.source_file
    left join clean_row_counts on log_files.source_file = clean_row_counts.source_file
    left join quarantine_counts on log_files.source_file = quarantine_counts.source_file
    left join duplicate_counts on log_files.source_file = duplicate_counts.source_file
    left join layout_counts on log_files.source_file = layout_counts.source_file
)

select * from final
