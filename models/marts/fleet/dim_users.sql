{#- One row per user with at least one charging session: sessions, chargers used, first and last
    session (true time), and the reported energy and cost of all of them. -#}
with

briefings as (
    select
        user_id,
        charger_id,
        corrected_started_at,
        corrected_ended_at,
        reported_energy_wh,
        total_cost_eur
    from {{ ref('fct_session_briefings') }}
    where user_id is not null
),

final as (
    select
        user_id,
        count(*) as session_count,
        count(distinct charger_id) as charger_count,
        min(corrected_started_at) as first_session_started_at,
        max(corrected_ended_at) as last_session_ended_at,
        coalesce({{ exact_sum('reported_energy_wh') }}, 0) / 1000.0 as total_energy_kwh,
        coalesce({{ exact_sum('total_cost_eur') }}, 0) as total_cost_eur
    from briefings
    group by user_id
)

select * from final
