{#- One row per charging session id that passed staging: the first clean occurrence of each id. -#}
{{ charger_scoped_config() }}
with

classified_sessions as (
    select * from {{ ref('int_sessions_classified') }}
    where {{ is_charger_changed() }}
),

kept_sessions as (
    select * from classified_sessions
    where reason_code is null
),

-- A session overlaps another on its charger when it starts before an earlier-starting session has
-- ended, or ends after the next one has started (touching sessions do not overlap).
final as (
    select
        session_id,
        charger_id,
        user_id,
        started_epoch_s,
        ended_epoch_s,
        started_at,
        ended_at,
        session_duration_s,
        energy_wh,
        total_cost_eur,
        unit_price_eur_per_kwh,
        is_implausible,
        coalesce(
            started_epoch_s < max(ended_epoch_s) over (
                partition by charger_id
                order by started_epoch_s asc, session_id asc
                rows between unbounded preceding and 1 preceding
            ),
            false
        )
        or coalesce(
            ended_epoch_s > lead(started_epoch_s) over (
                partition by charger_id
                order by started_epoch_s asc, session_id asc
            ),
            false
        ) as is_overlapping,
        source_file
    from kept_sessions
)

select * from final
