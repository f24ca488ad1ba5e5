{#- One row per charger and local day (in its time zone) from the day it was first seen to the day it was
    last seen: how much of the day it was plugged in and charging, sessions started, energy and cost. -#}
{{ charger_scoped_config(on_schema_change='append_new_columns') }}
with

chargers as (
    select
        charger_id,
        time_zone,
        first_seen_at,
        last_seen_at
    from {{ ref('dim_chargers') }}
    where {{ is_charger_changed() }}
),

session_days as (
    select * from {{ ref('fct_session_days') }}
    where {{ is_charger_changed() }}
),

-- Every local day of the charger's life, so that a day without a session counts as idle.
calendar as (
    select
        charger_id,
        time_zone,
        {{ each_date(
            local_date('time_zone', utc_instant('first_seen_at')),
            local_date('time_zone', utc_instant('last_seen_at'))
        ) }} as local_date
    from chargers
),

days_bounded as (
    select
        *,
        cast(
            {{ timestamp_to_epoch(local_midnight('time_zone', 'local_date + interval 1 day')) }}
            - {{ timestamp_to_epoch(local_midnight('time_zone', 'local_date')) }}
            as bigint
        ) as day_length_s
    from calendar
),

usage_per_day as (
    select
        charger_id,
        local_date,
        count(*) filter (where is_start_day) as sessions_started,
        -- overlapping sessions of one charger would count twice: at most the day
        cast(least(sum(plugged_in_s), any_value(day_length_s)) as bigint) as plugged_in_s,
        cast(least(sum(charging_s), any_value(day_length_s)) as bigint) as charging_s,
        {{ exact_sum('delivered_energy_wh') }} as delivered_energy_wh,
        {{ exact_sum('billed_energy_wh') }} as billed_energy_wh,
        {{ exact_sum('billed_cost_eur') }} as billed_cost_eur
    from session_days
    group by charger_id, local_date
),

final as (
    select
        days_bounded.charger_id,
        days_bounded.local_date,
        -- a month is named by its first day
        cast(date_trunc('month', days_bounded.local_date) as date) as local_month,
        days_bounded.time_zone,
        days_bounded.day_length_s,
        coalesce(usage_per_day.sessions_started, 0) as sessions_started,
        coalesce(usage_per_day.plugged_in_s, 0) as plugged_in_s,
        coalesce(usage_per_day.charging_s, 0) as charging_s,
        coalesce(usage_per_day.plugged_in_s, 0) / days_bounded.day_length_s as plugged_in_share,
        coalesce(usage_per_day.charging_s, 0) / days_bounded.day_length_s as charging_share,
        coalesce(usage_per_day.delivered_energy_wh, 0) / 1000.0 as delivered_energy_kwh,
        coalesce(usage_per_day.billed_energy_wh, 0) / 1000.0 as billed_energy_kwh,
        coalesce(usage_per_day.billed_cost_eur, 0) as billed_cost_eur
    from days_bounded
    left join usage_per_day
        on
            days_bounded.charger_id = usage_per_day.charger_id
            and days_bounded.local_date = usage_per_day.local_date
)

select * from final
