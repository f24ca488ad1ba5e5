{#- One row per charging session id that passed staging: the first clean occurrence of each id. -#}
with

classified_sessions as (
    select * from {{ ref('int_sessions_classified') }}
),

clean_sessions as (
    select * from classified_sessions
    where disposition = 'clean'
),

-- A session overlaps another on its charger when it starts before an earlier-starting session has
-- ended, or ends after the next one has started (touching sessions do not overlap).
final as (
    select
        coalesce(
            start_epoch_s < max(end_epoch_s) over (
                partition by charger_id
                order by start_epoch_s asc, session_id asc
                rows between unbounded preceding and 1 preceding
            ),
            false
        )
        or coalesce(
            end_epoch_s > lead(start_epoch_s) over (
                partition by charger_id
                order by start_epoch_s asc, session_id asc
            ),
            false
        ) as is_overlapping,
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
    from clean_sessions
)

select * from final
