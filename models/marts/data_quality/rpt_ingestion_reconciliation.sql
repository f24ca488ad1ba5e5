{#- One row per input file of either stream: its lines, and where each one went. -#}
with

log_files as (
    select * from {{ ref('stg_charger_logs__files') }}
),

-- Raw lines are counted from the line models, a read of the files independent of the ledger.
raw_lines as (
    select source_file from {{ ref('base_charger_logs__status_lines') }}
    union all
    select source_file from {{ ref('base_charger_logs__session_lines') }}
),

-- Clean rows are counted from the models that hold them, so a row lost between models shows here.
clean_rows as (
    select source_file from {{ ref('int_readings_deduplicated') }}
    union all
    select source_file from {{ ref('int_sessions_deduplicated') }}
),

log_lines as (
    select * from {{ ref('int_log_lines_classified') }}
),

raw_line_counts as (
    select
        source_file,
        count(*) as raw_lines
    from raw_lines
    group by source_file
),

clean_row_counts as (
    select
        source_file,
        count(*) as clean_rows
    from clean_rows
    group by source_file
),

ledger_counts as (
    select
        source_file,
        count(*) filter (where disposition = 'quarantined') as quarantined_rows,
        count(*) filter (where disposition = 'duplicate') as duplicate_rows,
        count(*) filter (where line_layout = 'flat') as flat_layout_lines,
        count(*) filter (where line_layout = 'nested') as nested_layout_lines
    from log_lines
    group by source_file
),

final as (
    select
        log_files.log_stream,
        log_files.source_file,
        log_files.is_gzip,
        coalesce(raw_line_counts.raw_lines, 0) as raw_lines,
        coalesce(clean_row_counts.clean_rows, 0) as clean_rows,
        coalesce(ledger_counts.quarantined_rows, 0) as quarantined_rows,
        coalesce(ledger_counts.duplicate_rows, 0) as duplicate_rows,
        coalesce(ledger_counts.flat_layout_lines, 0) as flat_layout_lines,
        coalesce(ledger_counts.nested_layout_lines, 0) as nested_layout_lines,
        coalesce(raw_line_counts.raw_lines, 0) = (
            coalesce(clean_row_counts.clean_rows, 0)
            + coalesce(ledger_counts.quarantined_rows, 0)
            + coalesce(ledger_counts.duplicate_rows, 0)
        ) as is_reconciled
    from log_files
    left join raw_line_counts on log_files.source_file = raw_line_counts.source_file
    left join clean_row_counts on log_files.source_file = clean_row_counts.source_file
    left join ledger_counts on log_files.source_file = ledger_counts.source_file
)

select * from final
