{# Run-start hook: on Spark, the sources as tables of the catalog (on DuckDB they are the
   `external_location` queries of the sources' YAML, and this hook does nothing). #}
{% macro register_log_sources() -%}
    {{ return(adapter.dispatch('register_log_sources')()) }}
{%- endmacro %}

{% macro default__register_log_sources() -%}
    select 1
{%- endmacro %}

{#- Each file is read whole (`wholetext`) and split at its newlines, so that every line keeps its
    exact number within its file (blank lines count) whatever the partitioning: posexplode numbers
    the pieces of one value, in order. gzip files are decompressed by their extension. Only `*.json`
    and `*.json.gz` files are read; paths are written as DuckDB's glob writes them (no `file:`). -#}
{% macro spark__register_log_sources() -%}
    {%- set data_dir = absolute_path(env_var('CHARGER_DATA_DIR', 'data/default')) | replace("'", "\\'") -%}
    {%- set lake = env_var('CHARGER_LAKE_DIR', '') -%}
    {%- set lake = absolute_path(lake) | replace("'", "\\'") if lake else '' -%}
    {#- Spark runs one statement per call -#}
    {%- set statements = ['create database if not exists charger_logs'] -%}
    {%- for stream in ['charger_log_session', 'charger_log_status'] -%}
        {%- do statements.append('drop view if exists charger_logs.' ~ stream) -%}
        {%- do statements.append('drop table if exists charger_logs.' ~ stream ~ '_files') -%}
        {%- if lake -%}
            {%- set create_view -%}
                create view charger_logs.{{ stream }} as
                select
                    source_file,
                    raw_line,
                    line_number,
                    regexp_replace(_metadata.file_path, '^file:(//)?', '') as bronze_file
                from parquet.`{{ lake }}/bronze/{{ stream }}/*/*.parquet`
            {%- endset -%}
        {%- else -%}
            {%- set create_table -%}
                create table charger_logs.{{ stream }}_files
                using text
                options (path '{{ data_dir }}/{{ stream }}/*.json*', wholetext 'true')
            {%- endset -%}
            {%- do statements.append(create_table) -%}
            {%- set create_view -%}
                create view charger_logs.{{ stream }} as
                select
                    file_lines.source_file,
                    cast(file_lines.line_index + 1 as bigint) as line_number,
                    file_lines.raw_line
                from (
                    select
                        regexp_replace(_metadata.file_path, '^file:(//)?', '') as source_file,
                        posexplode(split(value, '\\r?\\n')) as (line_index, raw_line)
                    from charger_logs.{{ stream }}_files
                    where _metadata.file_name like '%.json' or _metadata.file_name like '%.json.gz'
                ) as file_lines
            {%- endset -%}
        {%- endif -%}
        {%- do statements.append(create_view) -%}
    {%- endfor -%}
    {%- do statements.append('drop view if exists charger_logs.charger_log_files') -%}
    {%- set create_files_view -%}
        create view charger_logs.charger_log_files as
        {%- if lake %}
            select source_file as file from parquet.`{{ lake }}/ledger.parquet`
        {%- else %}
            select regexp_replace(path, '^file:(//)?', '') as file
            from binaryFile.`{{ data_dir }}/charger_log_s*/*.json*`
            where path like '%.json' or path like '%.json.gz'
        {%- endif %}
    {%- endset -%}
    {%- do statements.append(create_files_view) -%}
    {%- if execute -%}
        {%- for statement in statements -%}
            {%- do run_query(statement) -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}

{# A path made absolute from the shell's working folder (env PWD, the project folder when dbt is run
   from it): Spark resolves a table's relative path against its warehouse, not the working folder. #}
{% macro absolute_path(path) -%}
    {%- if path.startswith('/') -%}
        {{ return(path) }}
    {%- elif env_var('PWD', '') -%}
        {{ return(env_var('PWD') ~ '/' ~ path) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error('an absolute path is needed on Spark: ' ~ path) }}
    {%- endif -%}
{%- endmacro %}
