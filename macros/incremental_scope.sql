{# Incremental builds by charger: what each run recomputes and how it remembers where it stopped. #}

{# The time of this build, stamped on the rows a run (re)writes in the change-tracked models. #}
{% macro build_refreshed_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}

{# The table that holds, per incremental model, the build time up to which it has taken in changes. #}
{% macro watermarks_relation() -%}
    {{ api.Relation.create(database=target.database, schema='intermediate', identifier='incremental_watermarks') }}
{%- endmacro %}

{# Run-start hook: the watermark table exists before any model reads it. #}
{% macro create_watermarks_table() -%}
    create schema if not exists {{ adapter.quote(target.database) }}.intermediate;
    create table if not exists {{ watermarks_relation() }} (model_name varchar, refreshed_at timestamp)
{%- endmacro %}

{# Post-hook of an incremental model: it has taken in every change stamped up to this build. It runs
   in the model's transaction, so a failed build keeps the old watermark and the next one redoes it. #}
{% macro record_watermark() -%}
    delete from {{ watermarks_relation() }} where model_name = '{{ this.identifier }}';
    insert into {{ watermarks_relation() }} values ('{{ this.identifier }}', {{ build_refreshed_at() }})
{%- endmacro %}

{# True for a row (re)written after this model last took in changes (always true in a full build). #}
{% macro refreshed_since_last_build(column) -%}
    {%- if is_incremental() -%}
        {{ column }} > (
            select coalesce(max(watermarks.refreshed_at), '-infinity'::timestamp)
            from {{ watermarks_relation() }} as watermarks
            where watermarks.model_name = '{{ this.identifier }}'
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{# The chargers whose readings or session events changed since this model last took in changes: new
   lines, and older lines whose duplicate ranking a new line changed. #}
{% macro changed_chargers() -%}
    select readings.charger_id
    from {{ ref('int_readings_classified') }} as readings
    where {{ refreshed_since_last_build('readings.refreshed_at') }}
    union
    select sessions.charger_id
    from {{ ref('int_sessions_classified') }} as sessions
    where {{ refreshed_since_last_build('sessions.refreshed_at') }}
{%- endmacro %}

{# In an incremental build, true for the rows of the chargers that changed; true for all in a full build. #}
{% macro is_charger_changed(column='charger_id') -%}
    {%- if is_incremental() -%}
        {{ column }} in ({{ changed_chargers() }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{# The configuration shared by the models rebuilt charger by charger: each incremental build deletes
   the rows of the changed chargers and inserts them again (rows that vanished, such as a reading
   that a late arrival made a duplicate, go with them). #}
{% macro charger_scoped_config(on_schema_change='sync_all_columns') -%}
    {#- the changed chargers are read from the classified lines: declare them as parents (a unit
        test gives its model's inputs only, and builds it in full) -#}
    {%- if model.resource_type != 'unit_test' -%}
        {%- set classified_readings = ref('int_readings_classified') -%}
        {%- set classified_sessions = ref('int_sessions_classified') -%}
    {%- endif -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='charger_id',
        on_schema_change=on_schema_change,
        post_hook=["{{ record_watermark() }}"],
    ) }}
{%- endmacro %}

{# The filter that keeps the lines of the log files of a stream that this model has not taken in yet.
   From a lake, the new files are listed from its ledger and named by their bronze file, so that the
   scan opens only those; from a data folder, every file is read and the filter keeps the new ones. #}
{% macro new_log_files_filter(stream) -%}
    {%- set lake = env_var('CHARGER_LAKE_DIR', '') -%}
    {%- if lake -%}
        {%- set column = 'bronze_file' -%}
        {%- set query -%}
            select bronze_file from read_parquet('{{ lake }}/ledger.parquet')
            where log_stream = '{{ stream }}' and source_file not in (select distinct source_file from {{ this }})
        {%- endset -%}
    {%- else -%}
        {%- set column = 'source_file' -%}
        {%- set query -%}
            select file from {{ source('charger_logs', 'charger_log_files') }}
            where file like '%/{{ stream }}/%' and file not in (select distinct source_file from {{ this }})
        {%- endset -%}
    {%- endif -%}
    {%- set files = run_query(query).columns[0].values() if execute else [] -%}
    {{ column }} in (
        {%- for file in files | sort %}'{{ file | replace("'", "''") }}'{% if not loop.last %}, {% endif %}{% endfor -%}
        {%- if not files %}null{% endif -%}
    )
{%- endmacro %}

{# Post-hook of the classified lines: a line kept by an earlier build and made a conflicting duplicate
   by a later arrival was stored without its text; read it again from its file (bronze or input),
   opening only the files concerned. Runs only when there are such lines, which is rare. #}
{% macro restore_raw_lines() -%}
    {%- set query -%}
        select distinct bronze_file from {{ this }}
        where reason_code = 'conflicting_duplicate' and raw_line is null
    {%- endset -%}
    {%- set files = run_query(query).columns[0].values() if execute else [] -%}
    {%- for file in files -%}
        {%- set quoted = "'" ~ (file | replace("'", "''")) ~ "'" -%}
        update {{ this }} as target
        set raw_line = file_lines.raw_line
        from (
            {%- if env_var('CHARGER_LAKE_DIR', '') %}
                select line_number, raw_line from read_parquet({{ quoted }})
            {%- else %}
                select
                    row_number() over () as line_number,
                    raw_line
                from read_csv(
                    {{ quoted }}, columns = {'raw_line': 'VARCHAR'}, header = false, delim = chr(1),
                    quote = '', escape = '', auto_detect = false, null_padding = false
                )
            {%- endif %}
        ) as file_lines
        where
            target.bronze_file = {{ quoted }}
            and target.line_number = file_lines.line_number
            and target.reason_code = 'conflicting_duplicate'
            and target.raw_line is null;
    {% endfor -%}
    select 1
{%- endmacro %}
