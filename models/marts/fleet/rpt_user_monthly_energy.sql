{#- One row per user, charger and local month (the charger's time zone): sessions started, energy
    delivered and billed, and cost; what an employer reimburses for home charging. -#}
with

session_days as (
    select * from {{ ref('fct_session_days') }}
    where user_id is not null
),

final as (
    select
        user_id,
        charger_id,
        local_month,
        count(*) filter (where is_start_day) as sessions_started,
        coalesce({{ exact_sum('delivered_energy_wh') }}, 0) / 1000.0 as delivered_energy_kwh,
        coalesce({{ exact_sum('billed_energy_wh') }}, 0) / 1000.0 as billed_energy_kwh,
        coalesce({{ exact_sum('billed_cost_eur') }}, 0) as billed_cost_eur
    from session_days
    group by user_id, charger_id, local_month
)

select * from final
