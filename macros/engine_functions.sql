{# Functions DuckDB and Spark spell differently. Each dispatches to a `default__` body (DuckDB) and a
   `spark__` body; the parity test (tests/python/test_spark_parity.py) builds every mart with both. #}

{# True when a text matches a regular expression as a whole. `pattern` is a Jinja string, written
   once for both engines (Spark string literals read backslashes as escapes: they are doubled). #}
{% macro regexp_full_match(text, pattern) -%}
    {{ return(adapter.dispatch('regexp_full_match')(text, pattern)) }}
{%- endmacro %}

{% macro default__regexp_full_match(text, pattern) -%}
    regexp_full_match({{ text }}, '{{ pattern }}')
{%- endmacro %}

{% macro spark__regexp_full_match(text, pattern) -%}
    ({{ text }} rlike '^(?:{{ pattern | replace("\\", "\\\\") }})$')
{%- endmacro %}

{# True when some part of a text matches a regular expression (`pattern` as in regexp_full_match). #}
{% macro regexp_contains(text, pattern) -%}
    {{ return(adapter.dispatch('regexp_contains')(text, pattern)) }}
{%- endmacro %}

{% macro default__regexp_contains(text, pattern) -%}
    regexp_matches({{ text }}, '{{ pattern }}')
{%- endmacro %}

{% macro spark__regexp_contains(text, pattern) -%}
    ({{ text }} rlike '{{ pattern | replace("\\", "\\\\") }}')
{%- endmacro %}

{# A text without the double quotes at its start and end. #}
{% macro trim_quotes(text) -%}
    {{ return(adapter.dispatch('trim_quotes')(text)) }}
{%- endmacro %}

{% macro default__trim_quotes(text) -%}
    trim({{ text }}, '"')
{%- endmacro %}

{% macro spark__trim_quotes(text) -%}
    btrim({{ text }}, '"')
{%- endmacro %}

{# True when a line is one valid JSON object. #}
{% macro is_json_object(text) -%}
    {{ return(adapter.dispatch('is_json_object')(text)) }}
{%- endmacro %}

{% macro default__is_json_object(text) -%}
    coalesce(regexp_matches({{ text }}, '^\s*\{') and json_valid({{ text }}), false)
{%- endmacro %}

{#- try_parse_json rejects a line with a key written twice, which DuckDB's json_valid accepts -#}
{% macro spark__is_json_object(text) -%}
    coalesce({{ text }} rlike '^\\s*[{]' and try_parse_json({{ text }}) is not null, false)
{%- endmacro %}

{# The top-level fields of a JSON object line, each kept as JSON so that its type can be checked:
   a struct of JSON values (DuckDB, the fields named in `fields`) or a VARIANT (Spark). Read a field
   with json_field and its text with json_text. #}
{% macro json_parse(text, fields) -%}
    {{ return(adapter.dispatch('json_parse')(text, fields)) }}
{%- endmacro %}

{% macro default__json_parse(text, fields) -%}
    {%- set json_fields = [] -%}
    {%- for field in fields -%}
        {%- do json_fields.append('"' ~ field ~ '": "JSON"') -%}
    {%- endfor -%}
    from_json({{ text }}, '{{ "{" ~ json_fields | join(", ") ~ "}" }}')
{%- endmacro %}

{% macro spark__json_parse(text, fields) -%}
    try_parse_json({{ text }})
{%- endmacro %}

{# One field of a parsed JSON object (json_parse, json_array): null when absent. #}
{% macro json_field(parsed, field) -%}
    {{ return(adapter.dispatch('json_field')(parsed, field)) }}
{%- endmacro %}

{% macro default__json_field(parsed, field) -%}
    {{ parsed }}.{{ field }}
{%- endmacro %}

{% macro spark__json_field(parsed, field) -%}
    variant_get({{ parsed }}, '$.{{ field }}')
{%- endmacro %}

{# The JSON text of a value (a string with its quotes), null for a JSON null or an absent key. On
   Spark a number is written in its canonical form (229.50 as 229.5), and a number that is not an
   integer keeps a fraction (5.0, not 5), so that the integer checks of json_values.sql decide alike. #}
{% macro json_text(value) -%}
    {{ return(adapter.dispatch('json_text')(value)) }}
{%- endmacro %}

{% macro default__json_text(value) -%}
    cast({{ value }} as varchar)
{%- endmacro %}

{% macro spark__json_text(value) -%}
    case
        when {{ value }} is null or is_variant_null({{ value }}) then null
        when
            (schema_of_variant({{ value }}) in ('DOUBLE', 'FLOAT') or schema_of_variant({{ value }}) like 'DECIMAL%')
            and to_json({{ value }}) rlike '^-?[0-9]+$'
            then to_json({{ value }}) || '.0'
        else to_json({{ value }})
    end
{%- endmacro %}

{# The elements of a JSON array value as a list of JSON values; null when the value is no array. #}
{% macro json_array(value, element_fields) -%}
    {{ return(adapter.dispatch('json_array')(value, element_fields)) }}
{%- endmacro %}

{% macro default__json_array(value, element_fields) -%}
    {%- set json_fields = [] -%}
    {%- for field in element_fields -%}
        {%- do json_fields.append('"' ~ field ~ '": "JSON"') -%}
    {%- endfor -%}
    from_json({{ value }}, '[{{ "{" ~ json_fields | join(", ") ~ "}" }}]')
{%- endmacro %}

{% macro spark__json_array(value, element_fields) -%}
    try_variant_get({{ value }}, '$', 'array<variant>')
{%- endmacro %}

{# The keys of a JSON object, in the order written (of each element, for json_array_keys). #}
{% macro json_object_keys(value) -%}
    {{ return(adapter.dispatch('json_object_keys')(value)) }}
{%- endmacro %}

{% macro default__json_object_keys(value) -%}
    json_keys({{ value }})
{%- endmacro %}

{% macro spark__json_object_keys(value) -%}
    json_object_keys({{ value }})
{%- endmacro %}

{% macro json_array_keys(value) -%}
    {{ return(adapter.dispatch('json_array_keys')(value)) }}
{%- endmacro %}

{% macro default__json_array_keys(value) -%}
    [json_keys(element) for element in json_extract({{ value }}, '$[*]')]
{%- endmacro %}

{% macro spark__json_array_keys(value) -%}
    transform(try_variant_get({{ value }}, '$', 'array<variant>'), element -> json_object_keys(to_json(element)))
{%- endmacro %}

{# The content of a JSON string's text ('"abc"' -> abc). #}
{% macro json_string(text) -%}
    {{ return(adapter.dispatch('json_string')(text)) }}
{%- endmacro %}

{% macro default__json_string(text) -%}
    json_extract_string({{ text }}, '$')
{%- endmacro %}

{% macro spark__json_string(text) -%}
    get_json_object({{ text }}, '$')
{%- endmacro %}

{# UNIX seconds (double) of a timestamp with time zone. #}
{% macro timestamp_to_epoch(instant) -%}
    {{ return(adapter.dispatch('timestamp_to_epoch')(instant)) }}
{%- endmacro %}

{% macro default__timestamp_to_epoch(instant) -%}
    epoch({{ instant }})
{%- endmacro %}

{% macro spark__timestamp_to_epoch(instant) -%}
    unix_micros({{ instant }}) / 1e6
{%- endmacro %}

{# A text read as a timestamp with time zone (an ISO-8601 time with or without offset, UTC when
   none); null when it is none. #}
{% macro try_timestamptz(text) -%}
    {{ return(adapter.dispatch('try_timestamptz')(text)) }}
{%- endmacro %}

{% macro default__try_timestamptz(text) -%}
    try_cast({{ text }} as timestamptz)
{%- endmacro %}

{% macro spark__try_timestamptz(text) -%}
    try_cast({{ text }} as timestamp)
{%- endmacro %}

{# The element at a 1-based position of a list; null beyond its end. #}
{% macro list_element(list, position) -%}
    {{ return(adapter.dispatch('list_element')(list, position)) }}
{%- endmacro %}

{% macro default__list_element(list, position) -%}
    {{ list }}[{{ position }}]
{%- endmacro %}

{% macro spark__list_element(list, position) -%}
    element_at({{ list }}, {{ position }})
{%- endmacro %}

{# The number of elements of a list; null for a null list. #}
{% macro list_length(list) -%}
    {{ return(adapter.dispatch('list_length')(list)) }}
{%- endmacro %}

{% macro default__list_length(list) -%}
    len({{ list }})
{%- endmacro %}

{% macro spark__list_length(list) -%}
    array_size({{ list }})
{%- endmacro %}

{# True when a list holds a value. #}
{% macro list_has(list, value) -%}
    {{ return(adapter.dispatch('list_has')(list, value)) }}
{%- endmacro %}

{% macro default__list_has(list, value) -%}
    list_contains({{ list }}, {{ value }})
{%- endmacro %}

{% macro spark__list_has(list, value) -%}
    array_contains({{ list }}, {{ value }})
{%- endmacro %}

{# `expression` of each element (named `element`) of a list, as a list. #}
{% macro list_map(list, element, expression) -%}
    {{ return(adapter.dispatch('list_map')(list, element, expression)) }}
{%- endmacro %}

{% macro default__list_map(list, element, expression) -%}
    [{{ expression }} for {{ element }} in {{ list }}]
{%- endmacro %}

{% macro spark__list_map(list, element, expression) -%}
    transform({{ list }}, {{ element }} -> {{ expression }})
{%- endmacro %}

{# The elements of a list (each named `element`) for which `condition` holds, in order. #}
{% macro list_where(list, element, condition) -%}
    {{ return(adapter.dispatch('list_where')(list, element, condition)) }}
{%- endmacro %}

{% macro default__list_where(list, element, condition) -%}
    [{{ element }} for {{ element }} in {{ list }} if {{ condition }}]
{%- endmacro %}

{% macro spark__list_where(list, element, condition) -%}
    filter({{ list }}, {{ element }} -> {{ condition }})
{%- endmacro %}

{# True when any element of a list of booleans is true. #}
{% macro list_any(list) -%}
    {{ return(adapter.dispatch('list_any')(list)) }}
{%- endmacro %}

{% macro default__list_any(list) -%}
    list_bool_or({{ list }})
{%- endmacro %}

{% macro spark__list_any(list) -%}
    exists({{ list }}, element_is_true -> element_is_true)
{%- endmacro %}

{# Two lists end to end; a null list adds nothing (null when both are). #}
{% macro list_concat(first, second) -%}
    {{ return(adapter.dispatch('list_concat')(first, second)) }}
{%- endmacro %}

{% macro default__list_concat(first, second) -%}
    list_concat({{ first }}, {{ second }})
{%- endmacro %}

{% macro spark__list_concat(first, second) -%}
    case
        when {{ first }} is null then {{ second }}
        when {{ second }} is null then {{ first }}
        else concat({{ first }}, {{ second }})
    end
{%- endmacro %}

{# The distinct elements of a list of lists, sorted. #}
{% macro list_sorted_distinct_flattened(lists) -%}
    {{ return(adapter.dispatch('list_sorted_distinct_flattened')(lists)) }}
{%- endmacro %}

{% macro default__list_sorted_distinct_flattened(lists) -%}
    list_sort(list_distinct(flatten({{ lists }})))
{%- endmacro %}

{% macro spark__list_sorted_distinct_flattened(lists) -%}
    array_sort(array_distinct(flatten({{ lists }})))
{%- endmacro %}

{# A 64-bit hash of the values of some columns: equal values, equal hashes. #}
{% macro values_hash(columns) -%}
    {{ return(adapter.dispatch('values_hash')(columns)) }}
{%- endmacro %}

{% macro default__values_hash(columns) -%}
    hash({{ columns | join(', ') }})
{%- endmacro %}

{% macro spark__values_hash(columns) -%}
    xxhash64({{ columns | join(', ') }})
{%- endmacro %}

{# Every column of the relation in `from` but those named. #}
{% macro star_except(columns) -%}
    {{ return(adapter.dispatch('star_except')(columns)) }}
{%- endmacro %}

{% macro default__star_except(columns) -%}
    * exclude ({{ columns | join(', ') }})
{%- endmacro %}

{% macro spark__star_except(columns) -%}
    * except ({{ columns | join(', ') }})
{%- endmacro %}
