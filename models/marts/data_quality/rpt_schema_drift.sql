{#- One row per input file, charger and kind of schema change found in its lines. -#}
with

log_lines as (
    select
        log_stream,
        source_file,
        line_number,
        charger_id,
        reason_code,
        unexpected_keys,
        has_string_number
    from {{ ref('int_log_lines_classified') }}
),

reasons as (
    select
        reason_code,
        is_schema_drift
    from {{ ref('quarantine_reasons') }}
),

lines_with_reasons as (
    select
        log_lines.*,
        coalesce(reasons.is_schema_drift, false) as is_breaking_drift
    from log_lines
    left join reasons on log_lines.reason_code = reasons.reason_code
),

-- A line quarantined for a schema change counts under its reason alone; a kept (or otherwise
-- rejected) line counts under each compatible change it carries.
drifted_lines as (
    select
        log_stream,
        source_file,
        line_number,
        charger_id,
        reason_code as drift_kind,
        true as is_breaking
    from lines_with_reasons
    where is_breaking_drift
    union all
    select
        log_stream,
        source_file,
        line_number,
        charger_id,
        'string_number' as drift_kind,
        false as is_breaking
    from lines_with_reasons
    where has_string_number and not is_breaking_drift
    union all
    select
        log_stream,
        source_file,
        line_number,
        charger_id,
        'unexpected_key' as drift_kind,
        false as is_breaking
    from lines_with_reasons
    where {{ list_length('unexpected_keys') }} > 0 and not is_breaking_drift
),

-- The share's denominator: the lines of the charger in the file, or of the whole file for lines
-- whose charger could not be read (they share no charger, only the file).
charger_line_counts as (
    select
        source_file,
        charger_id,
        count(*) as line_count
    from log_lines
    group by source_file, charger_id
),

file_line_counts as (
    select
        source_file,
        count(*) as line_count
    from log_lines
    group by source_file
),

drift_counts as (
    select
        log_stream,
        source_file,
        charger_id,
        drift_kind,
        is_breaking,
        count(*) as line_count,
        min(line_number) as first_line_number
    from drifted_lines
    group by log_stream, source_file, charger_id, drift_kind, is_breaking
),

final as (
    select
        drift_counts.log_stream,
        drift_counts.source_file,
        drift_counts.charger_id,
        drift_counts.drift_kind,
        drift_counts.is_breaking,
        drift_counts.line_count,
        drift_counts.first_line_number,
        drift_counts.line_count / coalesce(charger_line_counts.line_count, file_line_counts.line_count)
            as line_share,
        drift_counts.is_breaking
        and drift_counts.line_count >= {{ var('schema_drift_alert_min_lines') }}
        and drift_counts.line_count
        >= {{ var('schema_drift_alert_min_share') }}
        * coalesce(charger_line_counts.line_count, file_line_counts.line_count) as raises_alert
    from drift_counts
    left join charger_line_counts
        on
            drift_counts.source_file = charger_line_counts.source_file
            and drift_counts.charger_id = charger_line_counts.charger_id
    left join file_line_counts on drift_counts.source_file = file_line_counts.source_file
)

select * from final
