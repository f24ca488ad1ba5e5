{#- On Spark each file is split into numbered lines within one value (macros/log_sources.sql): no scan
    order to preserve, and no such setting. -#}
{{ config(enabled=target.type != 'spark') }}
-- Line numbers come from the order in which DuckDB returns the lines of each file: that order is the
-- file's only while preserve_insertion_order is on. Fails if a profile or setting turns it off.
-- depends_on: {{ ref('base_charger_logs__status_lines') }}
-- depends_on: {{ ref('base_charger_logs__session_lines') }}
select current_setting('preserve_insertion_order') as preserve_insertion_order
where not current_setting('preserve_insertion_order')
