{# The CTEs that turn a raw-line source into `non_blank_lines` (source_file, raw_line, line_number,
   is_json_object): line numbers within each file, blank lines left out. Both staging models use it. #}
{# A group-by and a join inside staging, against the house rule for staging models: they only
   number the lines of the one source (no other data is joined), and a window carrying every line's
   text would cost several times more. #}
{% macro non_blank_lines_ctes(source_relation) -%}
source_lines as (
    select
        source_file,
        raw_line,
        -- Files are read one after another, each in its own line order (insertion order is
        -- preserved), so the scan position gives each line's number within its file.
        row_number() over () as scan_position
    from {{ source_relation }}
),

-- The first position of each file, from the narrow (file, position) pairs: cheaper than a window
-- that would carry every line's text.
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
        source_lines.raw_line,
        source_lines.scan_position - file_starts.first_scan_position + 1 as line_number
    from source_lines
    inner join file_starts on source_lines.source_file = file_starts.source_file
),

non_blank_lines as (
    select
        source_file,
        raw_line,
        line_number,
        coalesce(regexp_matches(raw_line, '^\s*\{') and json_valid(raw_line), false) as is_json_object
    from numbered_lines
    -- a blank line (nothing but white space) carries nothing and is not counted
    where not regexp_full_match(raw_line, '\s*')
)
{%- endmacro %}
