{#- One row per non-blank raw line of the status stream (a reading), both layouts unified. -#}
{#- A view: its one reader, int_readings_classified, materialises the parsed rows once. -#}
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
{#- explicit types for from_json: every field is read as raw JSON text so that its type can be checked -#}
{%- set json_fields = [] -%}
{%- for field in key_fields + flat_fields -%}
    {%- do json_fields.append('"' ~ field ~ '": "JSON"') -%}
{%- endfor -%}
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
        case when is_json_object then from_json(raw_line, '{{ "{" ~ json_fields | join(", ") ~ "}" }}') end
            as line_fields
    from status_lines
),

layout_resolved as (
    select
        *,
        case
            when not is_json_object then null
            when line_fields.charger_phases is not null then 'nested'
            else 'flat'
        end as line_layout,
        coalesce(left(cast(line_fields.charger_phases as varchar), 1) = '[', false) as has_phase_array
    from fields_extracted
),

phase_elements as (
    select
        *,
        case when has_phase_array then from_json(line_fields.charger_phases, '[{
            "id": "JSON", "ac_current_rms": "JSON", "ac_voltage_rms": "JSON", "temperature": "JSON"
        }]') end as phase_list
    from layout_resolved
),

-- The nested layout names each phase by the element's own id, in any order: pick by id, not position.
phases_by_id as (
    select
        *,
        {%- for phase in phases %}
            case
                {%- for position in phases %}
                    when cast(phase_list[{{ position }}].id as varchar) = '{{ phase }}' then phase_list[{{ position }}]
                {%- endfor %}
            end as nested_l{{ phase }},
        {%- endfor %}
        coalesce(len(phase_list), 0) as phase_element_count
    from phase_elements
),

-- The text of every value as JSON wrote it (a string keeps its quotes), whatever the layout: the
-- typed reads below accept a value only when its text is a JSON number, so type drift shows.
value_texts as (
    select
        *,
        {%- for phase in phases %}
            {%- for measure in measures %}
                cast(case
                    when line_layout = 'nested' then nested_l{{ phase }}.{{ measure }}
                    else line_fields.{{ measure }}_{{ phase }}
                end as varchar) as raw_{{ measure }}_l{{ phase }}_text,
            {%- endfor %}
        {%- endfor %}
        cast(line_fields.id as varchar) as raw_id_text,
        cast(line_fields.charger_id as varchar) as raw_charger_id_text,
        cast(line_fields.charger_timestamp as varchar) as raw_charger_timestamp_text,
        cast(line_fields.server_timestamp as varchar) as raw_server_timestamp_text
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
            when left(raw_server_timestamp_text, 1) = '"'
                then epoch(try_cast(json_extract_string(raw_server_timestamp_text, '$') as timestamptz))
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
                and try_cast(json_extract_string(raw_server_timestamp_text, '$') as timestamptz) is null
            )
            or (left(raw_server_timestamp_text, 1) <> '"' and {{ json_is_not_number('raw_server_timestamp') }})
            or (line_layout = 'nested' and not has_phase_array)
            {%- for phase in phases %}
                {%- for measure in measures %}
                    or {{ json_is_not_number('raw_' ~ measure ~ '_l' ~ phase) }}
                {%- endfor %}
            {%- endfor %}
        ) as is_type_mismatch,
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
        -- schema drift: top-level keys, and keys inside the phase elements named by their path
        case when is_json_object then list_concat(
            [
                key for key in json_keys(raw_line)
                if key not in ('{{ (key_fields + flat_fields) | join("', '") }}')  -- noqa: LT05
            ],
            [
                'charger_phases[].' || key
                for key in list_sort(list_distinct(flatten(
                    [json_keys(element) for element in json_extract(line_fields.charger_phases, '$[*]')]
                )))
                if key not in ('{{ phase_fields | join("', '") }}')  -- noqa: LT05
            ]
        ) end as unexpected_keys
    from value_texts
),

flagged as (
    select
        *,
        (
            coalesce(reading_id <= 0 or charger_id <= 0 or measured_epoch_s <= 0, false)
            or is_integer_overflow
            or {{ any_phase('current_l{p}_a < 0 or voltage_l{p}_v < 0 or temperature_l{p}_c < -273.15') }}
        ) as is_impossible_value,
        received_epoch_s - measured_epoch_s as clock_skew_s,
        cast(has_phase_l1 as int) + cast(has_phase_l2 as int) + cast(has_phase_l3 as int) as phase_count
    from typed
),

final as (
    select
        source_file,
        bronze_file,
        line_number,
        raw_line,
        case
            when not is_json_object then 'malformed_json'
            when is_missing_key_field then 'missing_key_field'
            when is_type_mismatch then 'type_mismatch'
            when is_invalid_phase_array then 'invalid_phase_array'
            when is_impossible_value then 'out_of_range'
        end as reason_code,
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
        -- identifies a reading's content: equal hashes mean the same charger, time and values
        hash(
            charger_id,
            measured_epoch_s,
            {%- for phase in phases %}
                current_l{{ phase }}_a,
                voltage_l{{ phase }}_v,
                temperature_l{{ phase }}_c{% if not loop.last %},{% endif %}
            {%- endfor %}
        ) as values_hash
    from flagged
)

select * from final
