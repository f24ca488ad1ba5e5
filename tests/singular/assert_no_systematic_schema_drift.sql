-- The pipeline operator's alert: a producer changed its schema in a way that breaks the contract
-- (a renamed field, a type or unit change, ...) for most lines of a charger in a file, so those lines
-- are quarantined while every other line flows on. It warns, listing each file and charger with the
-- change (stored in the schema dbt_test__audit); a stray bad line does not raise it (vars
-- schema_drift_alert_min_lines and schema_drift_alert_min_share). docs/schema_policy.md.
{{ config(severity='warn', store_failures=true) }}
select
    log_stream,
    source_file,
    charger_id,
    drift_kind,
    line_count,
    line_share,
    first_line_number
from {{ ref('rpt_schema_drift') }}
where raises_alert
