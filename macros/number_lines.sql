{# The non-blank lines of a raw-line source with their line number within their file (blank lines
   count) and whether each is a JSON object. #}
{% macro number_lines(source_relation) -%}
    {{ return(adapter.dispatch('number_lines')(source_relation)) }}
{%- endmacro %}

{#- Spark's sources carry each line's number already (macros/log_sources.sql); the input files are
    their own bronze files. -#}
{% macro spark__number_lines(source_relation) -%}
with

numbered_lines as (
    select
        source_file,
        {% if env_var('CHARGER_LAKE_DIR', '') -%} bronze_file {%- else -%} source_file as bronze_file {%- endif %},
        line_number,
        raw_line
    from {{ source_relation }}
),

final as (
    select
        source_file,
        bronze_file,
        line_number,
        raw_line,
        {{ is_json_object('raw_line') }} as is_json_object
    from numbered_lines
    -- a blank line (nothing but white space) carries nothing and is not counted
    where not {{ regexp_full_match('raw_line', '\s*') }}
)

select * from final
{%- endmacro %}

{% macro default__number_lines(source_relation) -%}
with

{% if env_var('CHARGER_LAKE_DIR', '') -%}
-- Bronze files were landed one input file each, with every line's number within its file.
numbered_lines as (
    select
        source_file,
        bronze_file,
        line_number,
        raw_line
    from {{ source_relation }}
),
{%- else -%}
source_lines as (
    select
        source_file,
        raw_line,
        -- Files are read one after another, each in its own line order (DuckDB's
        -- preserve_insertion_order, on by default and checked by a data test), so the scan position
        -- gives each line's number within its file.
        row_number() over () as scan_position
    from {{ source_relation }}
),

-- The first position of each file, from the narrow (file, position) pairs: cheaper than a window
-- partitioned by file that would carry every line's text.
file_starts as (
    select
        source_file,
        min(scan_position) as first_scan_position
    from source_lines
    group by source_file
),

numbered_lines as (
    select
        source_lines.source_file,
        -- read from the input file itself
        source_lines.source_file as bronze_file,
        source_lines.scan_position - file_starts.first_scan_position + 1 as line_number,
        source_lines.raw_line
    from source_lines
    inner join file_starts on source_lines.source_file = file_starts.source_file
),
{%- endif %}

final as (
    select
        source_file,
        bronze_file,
        line_number,
        raw_line,
        {{ is_json_object('raw_line') }} as is_json_object
    from numbered_lines
    -- a blank line (nothing but white space) carries nothing and is not counted
    where not regexp_full_match(raw_line, '\s*')
)

select * from final
{%- endmacro %}
