{#- One row per non-blank raw line of the session stream: a finished charging session. -#}
{%- set session_fields = ['id', 'charger_id', 'user_id', 'energy', 'total_cost', 'start_time', 'end_time'] -%}
with

session_lines as (
    select
        source_file,
        bronze_file,
        line_number,
        raw_line,
        is_json_object
    from {{ ref('base_charger_logs__session_lines') }}
),

fields_extracted as (
    select
        *,
        case when is_json_object then {{ json_object_keys('raw_line') }} end as line_keys,
        case when is_json_object then {{ json_parse('raw_line', session_fields) }} end as line_fields
    from session_lines
),

-- The JSON text of every value (see the json_* macros): a string keeps its quotes.
value_texts as (
    select
        *,
        {%- for field in session_fields %}
            {{ json_text(json_field('line_fields', field)) }} as raw_{{ field }}_text{% if not loop.last %},{% endif %}
        {%- endfor %}
    from fields_extracted
),

typed as (
    select
        source_file,
        bronze_file,
        line_number,
        raw_line,
        is_json_object,
        -- the session stream has one layout; a line that is not a JSON object has none
        case when is_json_object then 'flat' end as line_layout,
        {{ json_integer('raw_id') }} as session_id,
        {{ json_integer('raw_charger_id') }} as charger_id,
        {{ json_integer('raw_user_id') }} as user_id,
        {{ json_number('raw_energy') }} as energy_wh,
        {{ json_number('raw_total_cost') }} as total_cost_eur,
        {{ json_integer('raw_start_time') }} as started_epoch_s,
        {{ json_integer('raw_end_time') }} as ended_epoch_s,
        (
            {{ json_is_null('raw_id') }}
            or {{ json_is_null('raw_charger_id') }}
            or {{ json_is_null('raw_start_time') }}
            or {{ json_is_null('raw_end_time') }}
        ) as is_missing_key_field,
        (
            {{ json_integer_overflows('raw_id') }}
            or {{ json_integer_overflows('raw_charger_id') }}
            or {{ json_integer_overflows('raw_user_id') }}
            or {{ json_integer_overflows('raw_start_time') }}
            or {{ json_integer_overflows('raw_end_time') }}
        ) as is_integer_overflow,
        (
            {{ json_is_not_number('raw_id', integer_only=true) }}
            or {{ json_is_not_number('raw_charger_id', integer_only=true) }}
            or {{ json_is_not_number('raw_user_id', integer_only=true) }}
            or {{ json_is_not_number('raw_energy') }}
            or {{ json_is_not_number('raw_total_cost') }}
            or {{ json_is_not_number('raw_start_time', integer_only=true) }}
            or {{ json_is_not_number('raw_end_time', integer_only=true) }}
        ) as is_type_mismatch,
        -- a number written as a string that reads exactly as that number (accepted unless strict)
        (
            {%- for field in session_fields %}
                {{ json_is_string_number('raw_' ~ field, integer_only=field not in ('energy', 'total_cost')) }}
                {%- if not loop.last %} or{% endif %}
            {%- endfor %}
        ) as has_string_number,
        -- a renamed field: a documented key is absent (not null: absent) while an unknown key is present
        coalesce(
            {{ list_length('line_keys') }} > 0
            and not (
                {%- for field in session_fields %}
                    {{ list_has('line_keys', "'" ~ field ~ "'") }}{% if not loop.last %} and{% endif %}
                {%- endfor %}
            )
            and {{ list_length('line_keys') }} > (
                {%- for field in session_fields %}
                    cast({{ list_has('line_keys', "'" ~ field ~ "'") }} as int){% if not loop.last %} +{% endif %}
                {%- endfor %}
            ),
            false
        ) as is_renamed_field,
        case when is_json_object then {{ list_where(
            'line_keys', 'key', "key not in ('" ~ session_fields | join("', '") ~ "')"
        ) }} end as unexpected_keys
    from value_texts
),

final as (
    select
        source_file,
        bronze_file,
        line_number,
        raw_line,
        case
            when not is_json_object then 'malformed_json'
            when is_renamed_field then 'renamed_field'
            when is_missing_key_field then 'missing_key_field'
            when is_type_mismatch then 'type_mismatch'
            when
                coalesce(
                    session_id <= 0
                    or charger_id <= 0
                    or started_epoch_s <= 0
                    or energy_wh < 0
                    or total_cost_eur < 0,
                    false
                )
                or is_integer_overflow
                then 'out_of_range'
            when ended_epoch_s < started_epoch_s then 'end_before_start'
        end as reason_code,
        line_layout,
        session_id,
        charger_id,
        user_id,
        started_epoch_s,
        ended_epoch_s,
        {{ epoch_to_timestamp('started_epoch_s') }} as started_at,
        {{ epoch_to_timestamp('ended_epoch_s') }} as ended_at,
        ended_epoch_s - started_epoch_s as session_duration_s,
        energy_wh,
        total_cost_eur,
        case when energy_wh > 0 then round(total_cost_eur / (energy_wh / 1000.0), 4) end as unit_price_eur_per_kwh,
        coalesce(
            energy_wh > {{ var('plausible_session_energy_max_wh') }}
            or total_cost_eur / nullif(energy_wh / 1000.0, 0) > {{ var('plausible_unit_price_max_eur_per_kwh') }}
            or ended_epoch_s - started_epoch_s > {{ var('plausible_session_duration_max_s') }},
            false
        ) as is_implausible,
        unexpected_keys,
        has_string_number,
        -- identifies a session event's content: equal hashes mean the same values
        {{ values_hash([
            'session_id', 'charger_id', 'user_id', 'energy_wh', 'total_cost_eur', 'started_epoch_s', 'ended_epoch_s'
        ]) }} as values_hash
    from typed
)

select * from final
