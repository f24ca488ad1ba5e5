{#- One row per charging session and local day (in its charger's time zone) that the session touches:
    plugged-in and charging time that day, the energy it delivered that day, and the day's share of
    the session's reported energy and cost. -#}
{{ charger_scoped_config(on_schema_change='append_new_columns') }}
with

sessions as (
    select
        session_id,
        charger_id,
        user_id,
        -- timestamps are UTC; as timestamptz they convert to any zone
        {{ utc_instant('corrected_started_at') }} as started_utc,
        {{ utc_instant('corrected_ended_at') }} as ended_utc,
        reported_energy_wh,
        total_cost_eur
    from {{ ref('fct_session_briefings') }}
    where {{ is_charger_changed() }}
),

profiles as (
    select
        session_id,
        {{ utc_instant('corrected_measured_at') }} as measured_utc,
        interval_energy_wh + interval_estimated_energy_wh as interval_energy_wh,
        case when is_active_interval then interval_s else 0 end as charging_s
    from {{ ref('fct_charging_profiles') }}
    where {{ is_charger_changed() }}
),

chargers as (
    select
        charger_id,
        time_zone
    from {{ ref('dim_chargers') }}
    where {{ is_charger_changed() }}
),

-- Every local day from the one the session started to the one it ended, in its charger's zone.
sessions_by_day as (
    select
        sessions.*,
        chargers.time_zone,
        {{ each_date(
            local_date('chargers.time_zone', 'sessions.started_utc'),
            local_date('chargers.time_zone', 'sessions.ended_utc')
        ) }} as local_date
    from sessions
    inner join chargers on sessions.charger_id = chargers.charger_id
),

-- The day's bounds in UTC: local midnight to the next local midnight, 23 or 25 hours on a day the
-- clocks change.
days_bounded as (
    select
        *,
        {{ local_midnight('time_zone', 'local_date') }} as day_start_utc,
        {{ local_midnight('time_zone', 'local_date + interval 1 day') }} as day_end_utc
    from sessions_by_day
),

delivered_per_day as (
    select
        profiles.session_id,
        {{ local_date('chargers.time_zone', 'profiles.measured_utc') }} as local_date,
        {{ exact_sum('profiles.interval_energy_wh') }} as delivered_energy_wh,
        sum(profiles.charging_s) as charging_s
    from profiles
    inner join sessions on profiles.session_id = sessions.session_id
    inner join chargers on sessions.charger_id = chargers.charger_id
    group by profiles.session_id, local_date
),

-- What each day of each session holds.
session_days as (
    select
        days_bounded.session_id,
        days_bounded.local_date,
        days_bounded.charger_id,
        days_bounded.user_id,
        days_bounded.time_zone,
        days_bounded.local_date = min(days_bounded.local_date) over (partition by days_bounded.session_id)
            as is_start_day,
        -- whole seconds: epoch() is a double, sums of seconds are hugeints in DuckDB
        cast(
            {{ timestamp_to_epoch('days_bounded.day_end_utc') }}
            - {{ timestamp_to_epoch('days_bounded.day_start_utc') }}
            as bigint
        ) as day_length_s,
        cast(greatest(
            {{ timestamp_to_epoch('least(days_bounded.ended_utc, days_bounded.day_end_utc)') }}
            - {{ timestamp_to_epoch('greatest(days_bounded.started_utc, days_bounded.day_start_utc)') }},
            0
        ) as bigint) as plugged_in_s,
        cast(coalesce(delivered_per_day.charging_s, 0) as bigint) as charging_s,
        coalesce(delivered_per_day.delivered_energy_wh, 0) as delivered_energy_wh,
        days_bounded.reported_energy_wh as session_reported_energy_wh,
        days_bounded.total_cost_eur as session_cost_eur
    from days_bounded
    left join delivered_per_day
        on
            days_bounded.session_id = delivered_per_day.session_id
            and days_bounded.local_date = delivered_per_day.local_date
),

-- Reported energy and cost are split over the days in proportion to the energy delivered each day
-- (measured plus estimated), so that a session's days add up to its bill; a session that delivered
-- no energy by its telemetry is billed on the day it started.
-- Exact sums (see the macro) so that a rebuild gives the same bits whatever the order of addition.
session_totals as (
    select
        session_id,
        {{ exact_sum('delivered_energy_wh') }} as session_delivered_energy_wh
    from session_days
    group by session_id
),

session_days_totalled as (
    select
        session_days.*,
        session_totals.session_delivered_energy_wh
    from session_days
    inner join session_totals on session_days.session_id = session_totals.session_id
),

shares as (
    select
        *,
        case
            when session_delivered_energy_wh > 0 then delivered_energy_wh / session_delivered_energy_wh
            when is_start_day then 1.0
            else 0.0
        end as billed_share
    from session_days_totalled
),

final as (
    select
        session_id,
        local_date,
        charger_id,
        user_id,
        time_zone,
        -- a month is named by its first day
        cast(date_trunc('month', local_date) as date) as local_month,
        is_start_day,
        day_length_s,
        plugged_in_s,
        charging_s,
        delivered_energy_wh,
        billed_share,
        session_reported_energy_wh * billed_share as billed_energy_wh,
        session_cost_eur * billed_share as billed_cost_eur
    from shares
)

select * from final
