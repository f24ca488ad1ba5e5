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

{# Every column of the relations in `from` (of `relation` when named) but those listed. #}
{% macro star_except(columns, relation=none) -%}
    {{ return(adapter.dispatch('star_except')(columns, relation)) }}
{%- endmacro %}

{% macro default__star_except(columns, relation) -%}
    {% if relation %}{{ relation }}.{% endif %}* exclude ({{ columns | join(', ') }})
{%- endmacro %}

{% macro spark__star_except(columns, relation) -%}
    {% if relation %}{{ relation }}.{% endif %}* except ({{ columns | join(', ') }})
{%- endmacro %}

{# The set operator that stacks two selects: by column name on DuckDB; by position on Spark, which
   has no such operator in SQL, so the selects it joins list their columns in the same order. #}
{% macro union_all_by_name() -%}
    {{ return(adapter.dispatch('union_all_by_name')()) }}
{%- endmacro %}

{% macro default__union_all_by_name() -%}
    union all by name
{%- endmacro %}

{% macro spark__union_all_by_name() -%}
    union all
{%- endmacro %}

{# The continuous percentile (linear interpolation between the two nearest values) of an aggregate;
   `fraction` from 0 to 1. #}
{% macro percentile_cont(expression, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont')(expression, fraction)) }}
{%- endmacro %}

{% macro default__percentile_cont(expression, fraction) -%}
    quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}

{% macro spark__percentile_cont(expression, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{# One row per element of a list: a set-returning select expression (no row for an empty list). #}
{% macro unnest_list(list) -%}
    {{ return(adapter.dispatch('unnest_list')(list)) }}
{%- endmacro %}

{% macro default__unnest_list(list) -%}
    unnest({{ list }})
{%- endmacro %}

{% macro spark__unnest_list(list) -%}
    explode({{ list }})
{%- endmacro %}

{# A list of the values of some expressions. #}
{% macro list_value(expressions) -%}
    {{ return(adapter.dispatch('list_value')(expressions)) }}
{%- endmacro %}

{% macro default__list_value(expressions) -%}
    [{{ expressions | join(', ') }}]
{%- endmacro %}

{% macro spark__list_value(expressions) -%}
    array({{ expressions | join(', ') }})
{%- endmacro %}

{# The start of the `seconds`-long bucket a timestamp falls in, buckets aligned on DuckDB's origin
   for time_bucket, 2000-01-03 00:00:00 UTC (on midnight for any length dividing a day). #}
{% macro time_bucket_seconds(seconds, timestamp) -%}
    {{ return(adapter.dispatch('time_bucket_seconds')(seconds, timestamp)) }}
{%- endmacro %}

{% macro default__time_bucket_seconds(seconds, timestamp) -%}
    time_bucket(interval {{ seconds }} second, {{ timestamp }})
{%- endmacro %}

{% macro spark__time_bucket_seconds(seconds, timestamp) -%}
    timestamp_micros(
        946857600000000
        + floor((unix_micros({{ timestamp }}) - 946857600000000) / {{ seconds * 1000000 }}) * {{ seconds * 1000000 }}
    )
{%- endmacro %}

{# The texts of a group joined by `separator` in the order of `order_by` (distinct texts when
   `distinct`; `order_by` is then the expression itself). #}
{% macro string_agg_ordered(expression, separator, order_by, distinct=false) -%}
    {{ return(adapter.dispatch('string_agg_ordered')(expression, separator, order_by, distinct)) }}
{%- endmacro %}

{% macro default__string_agg_ordered(expression, separator, order_by, distinct) -%}
    string_agg({% if distinct %}distinct {% endif %}{{ expression }}, '{{ separator }}' order by {{ order_by }})
{%- endmacro %}

{% macro spark__string_agg_ordered(expression, separator, order_by, distinct) -%}
    listagg({% if distinct %}distinct {% endif %}{{ expression }}, '{{ separator }}') within group (order by {{ order_by }})
{%- endmacro %}

{# The median of a window (continuous: the mean of the two middle values of an even count); DuckDB
   computes it over a moving frame, Spark from the frame's sorted values. `window` is the text
   inside `over (...)`. #}
{% macro window_median(expression, window) -%}
    {{ return(adapter.dispatch('window_median')(expression, window)) }}
{%- endmacro %}

{% macro default__window_median(expression, window) -%}
    median({{ expression }}) over ({{ window }})
{%- endmacro %}

{% macro spark__window_median(expression, window) -%}
    {{ sorted_list_median('array_sort(collect_list(' ~ expression ~ ') over (' ~ window ~ '))') }}
{%- endmacro %}

{# The median of a sorted list of numbers without nulls (the mean of its two middle values for an
   even length, as DuckDB interpolates); null for an empty list. #}
{% macro sorted_list_median(values) -%}
    case
        when size({{ values }}) = 0 then null
        when size({{ values }}) % 2 = 1 then element_at({{ values }}, cast((size({{ values }}) + 1) / 2 as int))
        else
            element_at({{ values }}, cast(size({{ values }}) / 2 as int))
            + (
                element_at({{ values }}, cast(size({{ values }}) / 2 + 1 as int))
                - element_at({{ values }}, cast(size({{ values }}) / 2 as int))
            )
            / 2
    end
{%- endmacro %}

{# The median absolute deviation of an aggregate: the median of the distances to its median. #}
{% macro mad(expression) -%}
    {{ return(adapter.dispatch('mad')(expression)) }}
{%- endmacro %}

{% macro default__mad(expression) -%}
    mad({{ expression }})
{%- endmacro %}

{#- from the group's values, sorted (a group holds one charger phase); the median is paired with
    every value through array_repeat, so that it is computed once, not once per value -#}
{% macro spark__mad(expression) -%}
    {%- set values = 'array_sort(collect_list(' ~ expression ~ '))' -%}
    {%- set deviations -%}
        array_sort(zip_with(
            {{ values }},
            array_repeat({{ sorted_list_median(values) }}, size({{ values }})),
            (mad_value, mad_median) -> abs(mad_value - mad_median)
        ))
    {%- endset -%}
    {{ sorted_list_median(deviations) }}
{%- endmacro %}

{# Whole seconds from one timestamp to another (second boundaries crossed). #}
{% macro seconds_between(start_timestamp, end_timestamp) -%}
    {{ return(adapter.dispatch('seconds_between')(start_timestamp, end_timestamp)) }}
{%- endmacro %}

{% macro default__seconds_between(start_timestamp, end_timestamp) -%}
    date_diff('second', {{ start_timestamp }}, {{ end_timestamp }})
{%- endmacro %}

{% macro spark__seconds_between(start_timestamp, end_timestamp) -%}
    (unix_seconds({{ end_timestamp }}) - unix_seconds({{ start_timestamp }}))
{%- endmacro %}

{# Microseconds since the UNIX epoch (bigint) of a timestamp. #}
{% macro timestamp_to_epoch_us(instant) -%}
    {{ return(adapter.dispatch('timestamp_to_epoch_us')(instant)) }}
{%- endmacro %}

{% macro default__timestamp_to_epoch_us(instant) -%}
    epoch_us({{ instant }})
{%- endmacro %}

{% macro spark__timestamp_to_epoch_us(instant) -%}
    unix_micros({{ instant }})
{%- endmacro %}

{# The last non-null value of an expression over a window (write ` over <window>` after it). #}
{% macro last_non_null(expression) -%}
    {{ return(adapter.dispatch('last_non_null')(expression)) }}
{%- endmacro %}

{% macro default__last_non_null(expression) -%}
    last_value({{ expression }} ignore nulls)
{%- endmacro %}

{% macro spark__last_non_null(expression) -%}
    last({{ expression }}, true)
{%- endmacro %}
