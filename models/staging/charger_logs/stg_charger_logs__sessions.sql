{#- One row per non-blank raw line of the session stream. -#}
{%- set session_fields = ['id', 'charger_id', 'user_id', 'energy', 'total_cost', 'start_time', 'end_time'] -%}
with

{{ non_blank_lines_ctes(source('charger_logs', 'charger_log_session')) }},

fields_extracted as (
    select
        source_file,
        raw_line,
        line_number,
        is_json_object,
        case when is_json_object then json_keys(raw_line) end as line_keys,
        case when is_json_object then from_json(raw_line, '{
            "id": "JSON", "charger_id": "JSON", "user_id": "JSON", "energy": "JSON",
            "total_cost": "JSON", "start_time": "JSON", "end_time": "JSON"
        }') end as line_fields
    from non_blank_lines
),

-- The JSON text of every value (see the json_* macros): a string keeps its quotes.
value_texts as (
    select
        *,
        {%- for field in session_fields %}
            cast(line_fields.{{ field }} as varchar) as raw_{{ field }}_text{% if not loop.last %},{% endif %}
        {%- endfor %}
    from fields_extracted
),

typed as (
    select
        source_file,
        line_number,
        raw_line,
        is_json_object,
        {{ json_integer('raw_id') }} as session_id,
        {{ json_integer('raw_charger_id') }} as charger_id,
        {{ json_integer('raw_user_id') }} as user_id,
        {{ json_number('raw_energy') }} as energy_wh,
        {{ json_number('raw_total_cost') }} as total_cost_eur,
        {{ json_integer('raw_start_time') }} as start_epoch_s,
        {{ json_integer('raw_end_time') }} as end_epoch_s,
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
        case when is_json_object then [
            key for key in line_keys
            if key not in ('id', 'charger_id', 'user_id', 'energy', 'total_cost', 'start_time', 'end_time')
        ] end as unexpected_keys
    from value_texts
),

final as (
    select
        source_file,
        line_number,
        raw_line,
        case
            when not is_json_object then 'malformed_json'
            when is_missing_key_field then 'missing_key_field'
            when is_type_mismatch then 'type_mismatch'
            when
                coalesce(
                    session_id <= 0 or charger_id <= 0 or start_epoch_s <= 0 or energy_wh < 0 or total_cost_eur < 0,
                    false
                )
                or is_integer_overflow
                then 'out_of_range'
            when end_epoch_s < start_epoch_s then 'end_before_start'
        end as rejection_reason,
        session_id,
        charger_id,
        user_id,
        start_epoch_s,
        end_epoch_s,
        {{ epoch_to_timestamp('start_epoch_s') }} as started_at,
        {{ epoch_to_timestamp('end_epoch_s') }} as ended_at,
        end_epoch_s - start_epoch_s as session_duration_s,
        energy_wh,
        energy_wh / 1000.0 as energy_kwh,
        total_cost_eur,
        case when energy_wh > 0 then round(total_cost_eur / (energy_wh / 1000.0), 4) end as unit_price_eur_per_kwh,
        user_id is null as is_missing_user,
        energy_wh is null or total_cost_eur is null as has_missing_measurement,
        coalesce(energy_wh > {{ var('plausible_session_energy_max_wh') }}, false) as is_energy_implausible,
        coalesce(
            total_cost_eur / nullif(energy_wh / 1000.0, 0) > {{ var('plausible_unit_price_max_eur_per_kwh') }},
            false
        ) as is_unit_price_implausible,
        coalesce(end_epoch_s - start_epoch_s > {{ var('plausible_session_duration_max_s') }}, false)
            as is_duration_implausible,
        coalesce(len(unexpected_keys), 0) > 0 as has_unexpected_keys,
        unexpected_keys,
        -- identifies a session event's content: equal hashes mean the same values
        hash(session_id, charger_id, user_id, energy_wh, total_cost_eur, start_epoch_s, end_epoch_s) as payload_hash
    from typed
)

select * from final
