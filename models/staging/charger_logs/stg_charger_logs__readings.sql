{#- One row per non-blank raw line of the status stream (a reading), both layouts unified. -#}
{#- A view: its one reader, int_readings_classified, materialises the parsed rows once. On Spark a
    table: the Hive metastore keeps a view's text in 32,700 characters, and this one is longer. -#}
{{ config(materialized='table' if target.type == 'spark' else 'view') }}
{%- set phases = [1, 2, 3] -%}
{%- set measures = ['ac_current_rms', 'ac_voltage_rms', 'temperature'] -%}
{%- set flat_fields = [] -%}
{%- for phase in phases -%}
    {%- for measure in measures -%}
        {%- do flat_fields.append(measure ~ '_' ~ phase) -%}
    {%- endfor -%}
{%- endfor -%}
{%- set key_fields = ['id', 'charger_id', 'charger_timestamp', 'server_timestamp', 'charger_phases'] -%}
{%- set phase_fields = ['id', 'ac_current_rms', 'ac_voltage_rms', 'temperature'] -%}
{%- set required_fields = ['id', 'charger_id', 'charger_timestamp', 'server_timestamp'] -%}
{#- the columns whose values identify a reading's content -#}
{%- set hashed_columns = ['charger_id', 'measured_epoch_s'] -%}
{%- for phase in phases -%}
    {%- do hashed_columns.extend(
        ['current_l' ~ phase ~ '_a', 'voltage_l' ~ phase ~ '_v', 'temperature_l' ~ phase ~ '_c']
    ) -%}
{%- endfor -%}
{#- a current as written, read as amperes, that is a charging current (the unit check) -#}
{%- set element_key_checks = [] -%}
{%- for field in phase_fields -%}
    {%- do element_key_checks.append("cast(" ~ list_has('keys', "'" ~ field ~ "'") ~ " as int)") -%}
{%- endfor -%}
{#- the number of documented keys a nested phase element (`keys`, its key list) carries -#}
{%- set documented_element_keys = '(' ~ element_key_checks | join(' + ') ~ ')' -%}
{#- a phase id written as a string ("1") names the phase too, unless var strict_json_types -#}
{%- set accept_string_numbers = not var('strict_json_types') -%}
with

status_lines as (
    select
        source_file,
        bronze_file,
        line_number,
        raw_line,
        is_json_object
    from {{ ref('base_charger_logs__status_lines') }}
),

fields_extracted as (
    select
        *,
        -- every field is read as JSON so that its type can be checked
        case when is_json_object then {{ json_parse('raw_line', key_fields + flat_fields) }} end as line_fields
    from status_lines
),

layout_resolved as (
    select
        *,
        case
            when not is_json_object then null
            when {{ json_field('line_fields', 'charger_phases') }} is not null then 'nested'
            else 'flat'
        end as line_layout,
        coalesce(left({{ json_text(json_field('line_fields', 'charger_phases')) }}, 1) = '[', false) as has_phase_array,
        case when is_json_object then {{ json_object_keys('raw_line') }} end as line_keys
    from fields_extracted
),

phase_elements as (
    select
        *,
        case when has_phase_array then {{ json_array(json_field('line_fields', 'charger_phases'), phase_fields) }} end
            as phase_list,
        case when has_phase_array then {{ json_array_keys(json_field('line_fields', 'charger_phases')) }} end
            as phase_element_keys
    from layout_resolved
),

-- The nested layout names each phase by the element's own id, in any order: pick by id, not position.
phases_by_id as (
    select
        *,
        {%- for phase in phases %}
            case
                {%- for position in phases %}
                    when {{ json_text(json_field(list_element('phase_list', position), 'id')) }} in (
                        '{{ phase }}'{% if accept_string_numbers %}, '"{{ phase }}"'{% endif %}
                    ) then {{ list_element('phase_list', position) }}
                {%- endfor %}
            end as nested_l{{ phase }},
        {%- endfor %}
        coalesce({{ list_length('phase_list') }}, 0) as phase_element_count
    from phase_elements
),

-- The text of every value as JSON wrote it (a string keeps its quotes), whatever the layout: the
-- typed reads below accept a value only when its text is a JSON number, so type drift shows.
value_texts as (
    select
        *,
        {%- for phase in phases %}
            {%- for measure in measures %}
                {{ json_text(
                    "case when line_layout = 'nested' then " ~ json_field('nested_l' ~ phase, measure)
                    ~ " else " ~ json_field('line_fields', measure ~ '_' ~ phase) ~ " end"
                ) }} as raw_{{ measure }}_l{{ phase }}_text,
            {%- endfor %}
        {%- endfor %}
        {{ json_text(json_field('line_fields', 'id')) }} as raw_id_text,
        {{ json_text(json_field('line_fields', 'charger_id')) }} as raw_charger_id_text,
        {{ json_text(json_field('line_fields', 'charger_timestamp')) }} as raw_charger_timestamp_text,
        {{ json_text(json_field('line_fields', 'server_timestamp')) }} as raw_server_timestamp_text
    from phases_by_id
),

typed as (
    select
        source_file,
        bronze_file,
        line_number,
        raw_line,
        is_json_object,
        line_layout,
        has_phase_array,
        phase_element_count,
        {{ json_integer('raw_id') }} as reading_id,
        {{ json_integer('raw_charger_id') }} as charger_id,
        {{ json_integer('raw_charger_timestamp') }} as measured_epoch_s,
        case
            when {{ json_is_string_number('raw_server_timestamp') }} then {{ json_number('raw_server_timestamp') }}
            when left(raw_server_timestamp_text, 1) = '"'
                then {{ timestamp_to_epoch(try_timestamptz(json_string('raw_server_timestamp_text'))) }}
            else {{ json_number('raw_server_timestamp') }}
        end as received_epoch_s,
        {%- for phase in phases %}
            {{ json_number('raw_ac_current_rms_l' ~ phase) }} / 100.0 as current_l{{ phase }}_a,
            {{ json_number('raw_ac_voltage_rms_l' ~ phase) }} as voltage_l{{ phase }}_v,
            {{ json_number('raw_temperature_l' ~ phase) }} as temperature_l{{ phase }}_c,
            (
                not {{ json_is_null('raw_ac_current_rms_l' ~ phase) }}
                or not {{ json_is_null('raw_ac_voltage_rms_l' ~ phase) }}
                or not {{ json_is_null('raw_temperature_l' ~ phase) }}
                or nested_l{{ phase }} is not null
            ) as has_phase_l{{ phase }},
        {%- endfor %}
        (
            {{ json_is_null('raw_id') }}
            or {{ json_is_null('raw_charger_id') }}
            or {{ json_is_null('raw_charger_timestamp') }}
        ) as is_missing_key_field,
        (
            {{ json_integer_overflows('raw_id') }}
            or {{ json_integer_overflows('raw_charger_id') }}
            or {{ json_integer_overflows('raw_charger_timestamp') }}
        ) as is_integer_overflow,
        (
            {{ json_is_not_number('raw_id', integer_only=true) }}
            or {{ json_is_not_number('raw_charger_id', integer_only=true) }}
            or {{ json_is_not_number('raw_charger_timestamp', integer_only=true) }}
            or (
                left(raw_server_timestamp_text, 1) = '"'
                and not {{ json_is_string_number('raw_server_timestamp') }}
                and {{ try_timestamptz(json_string('raw_server_timestamp_text')) }} is null
            )
            or (left(raw_server_timestamp_text, 1) <> '"' and {{ json_is_not_number('raw_server_timestamp') }})
            or (line_layout = 'nested' and not has_phase_array)
            {%- for phase in phases %}
                {%- for measure in measures %}
                    or {{ json_is_not_number('raw_' ~ measure ~ '_l' ~ phase) }}
                {%- endfor %}
            {%- endfor %}
        ) as is_type_mismatch,
        -- a number written as a string that reads exactly as that number (accepted unless strict); the
        -- pattern is matched only against values written as strings, which are few
        (
            {{ json_is_string_number('raw_id', integer_only=true) }}
            or {{ json_is_string_number('raw_charger_id', integer_only=true) }}
            or {{ json_is_string_number('raw_charger_timestamp', integer_only=true) }}
            or {{ json_is_string_number('raw_server_timestamp') }}
            or coalesce({{ list_any(list_map(
                'phase_list', 'element',
                json_is_string_number(json_text(json_field('element', 'id')), integer_only=true, is_text=true)
            )) }}, false)
            {%- for phase in phases %}
                {%- for measure in measures %}
                    or {{ json_is_string_number('raw_' ~ measure ~ '_l' ~ phase) }}
                {%- endfor %}
            {%- endfor %}
        ) as has_string_number,
        -- a nested phase array must name each of phases 1-3 at most once
        (
            has_phase_array
            and (
                phase_element_count > 3
                or phase_element_count
                <> cast(nested_l1 is not null as int)
                + cast(nested_l2 is not null as int)
                + cast(nested_l3 is not null as int)
            )
        ) as is_invalid_phase_array,
        line_keys,
        phase_element_keys,
        -- schema drift: top-level keys, and keys inside the phase elements named by their path
        case when is_json_object then {{ list_concat(
            list_where('line_keys', 'key', "key not in ('" ~ (key_fields + flat_fields) | join("', '") ~ "')"),
            list_map(
                list_where(
                    list_sorted_distinct_flattened('phase_element_keys'), 'key',
                    "key not in ('" ~ phase_fields | join("', '") ~ "')"
                ),
                'key', "'charger_phases[].' || key"
            )
        ) }} end as unexpected_keys
    from value_texts
),

-- A renamed field: a documented key is absent (not null: absent) while an unknown key is present.
-- Documented keys are the required fields, every measurement key of a phase the flat line
-- reports, at least one phase, and every key of a nested phase element that carries an unknown
-- key (an element without its measurements beside another with a new key is no rename).
-- list_contains with one key at a time: list_has_all with a list literal costs as much on every
-- line as on the few checked.
renames_checked as (
    select
        {{ star_except(['line_keys', 'phase_element_keys']) }},
        case when {{ list_length('unexpected_keys') }} > 0 then coalesce(
            not (
                {%- for field in required_fields %}
                    {{ list_has('line_keys', "'" ~ field ~ "'") }}{% if not loop.last %} and{% endif %}
                {%- endfor %}
            )
            or (
                line_layout = 'flat'
                and (
                    not (
                        {%- for field in flat_fields %}
                            {{ list_has('line_keys', "'" ~ field ~ "'") }}{% if not loop.last %} or{% endif %}
                        {%- endfor %}
                    )
                    {%- for phase in phases %}
                        {%- set phase_key_checks = [] %}
                        {%- for measure in measures %}
                            {%- set key = measure ~ '_' ~ phase %}
                            {%- do phase_key_checks.append(list_has('line_keys', "'" ~ key ~ "'")) %}
                        {%- endfor %}
                        or (
                            ({{ phase_key_checks | join(' or ') }})
                            and not ({{ phase_key_checks | join(' and ') }})
                        )
                    {%- endfor %}
                )
            )
            -- a nested element that lacks a documented key and carries an unknown one
            or {{ list_any(list_map(
                'phase_element_keys', 'keys',
                documented_element_keys ~ ' < ' ~ phase_fields | length
                ~ ' and ' ~ list_length('keys') ~ ' > ' ~ documented_element_keys
            )) }},
            false
        ) else false end as is_renamed_field
    from typed
),

flagged as (
    select
        *,
        case
            when not is_json_object then 'malformed_json'
            when is_renamed_field then 'renamed_field'
            when is_missing_key_field then 'missing_key_field'
            when is_type_mismatch then 'type_mismatch'
            when is_invalid_phase_array then 'invalid_phase_array'
            when
                coalesce(reading_id <= 0 or charger_id <= 0 or measured_epoch_s <= 0, false)
                or is_integer_overflow
                or {{ any_phase('current_l{p}_a < 0 or voltage_l{p}_v < 0 or temperature_l{p}_c < -273.15') }}
                then 'out_of_range'
        end as line_reason_code,
        received_epoch_s - measured_epoch_s as clock_skew_s,
        cast(has_phase_l1 as int) + cast(has_phase_l2 as int) + cast(has_phase_l3 as int) as phase_count
    from renames_checked
),

final as (
    select
        source_file,
        bronze_file,
        line_number,
        raw_line,
        line_reason_code as reason_code,
        reading_id,
        charger_id,
        line_layout,
        phase_count,
        measured_epoch_s,
        {{ epoch_to_timestamp('measured_epoch_s') }} as measured_at,
        received_epoch_s,
        {{ epoch_to_timestamp('received_epoch_s') }} as received_at,
        {%- for phase in phases %}
            current_l{{ phase }}_a,
            voltage_l{{ phase }}_v,
            temperature_l{{ phase }}_c,
        {%- endfor %}
        clock_skew_s,
        (
            {%- for phase in phases %}
                (has_phase_l{{ phase }} and (
                    current_l{{ phase }}_a is null
                    or voltage_l{{ phase }}_v is null
                    or temperature_l{{ phase }}_c is null
                )){% if not loop.last %} or{% endif %}
            {%- endfor %}
            or phase_count = 0
        ) as has_missing_measurement,
        (
            {{ any_phase('current_l{p}_a > ' ~ var('plausible_current_max_a')) }}
            or {{ any_phase(
                'voltage_l{p}_v not between ' ~ var('plausible_voltage_min_v')
                ~ ' and ' ~ var('plausible_voltage_max_v')
            ) }}
            or {{ any_phase(
                'temperature_l{p}_c not between ' ~ var('plausible_temperature_min_c')
                ~ ' and ' ~ var('plausible_temperature_max_c')
            ) }}
        ) as is_implausible,
        unexpected_keys,
        has_string_number,
        -- identifies a reading's content: equal hashes mean the same charger, time and values
        {{ values_hash(hashed_columns) }} as values_hash
    from flagged
)

select * from final
