{#- One row per charging session id that passed staging: the first clean occurrence of each id. -#}
with

classified_sessions as (
    select * from {{ ref('int_sessions_classified') }}
),

final as (
    select
        session_id,
        charger_id,
        user_id,
        start_epoch_s,
        end_epoch_s,
        started_at,
        ended_at,
        session_duration_s,
        energy_wh,
        energy_kwh,
        total_cost_eur,
        unit_price_eur_per_kwh,
        is_missing_user,
        has_missing_measurement,
        is_energy_implausible,
        is_unit_price_implausible,
        is_duration_implausible,
        has_unexpected_keys,
        source_file,
        line_number
    from classified_sessions
    where disposition = 'clean'
)

select * from final
