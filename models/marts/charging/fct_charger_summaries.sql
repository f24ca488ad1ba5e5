{#- One row per charger with at least one charging session: session counts, session times and energy. -#}
with

briefings as (
    select * from {{ ref('fct_session_briefings') }}
),

final as (
    select
        cast(charger_id as bigint) as charger_id,
        cast(count(*) as bigint) as session_count,
        cast(avg(session_duration_s) as double) as avg_session_duration_s,
        cast(avg(session_duration_s) / 3600.0 as double) as avg_session_duration_h,
        cast({{ percentile('session_duration_s', 0.5) }} as double) as median_session_duration_s,
        cast({{ percentile('session_duration_s', 0.9) }} as double) as p90_session_duration_s,
        cast(min(session_duration_s) as bigint) as min_session_duration_s,
        cast(max(session_duration_s) as bigint) as max_session_duration_s,
        cast({{ exact_avg('active_charging_s') }} as double) as avg_active_charging_s,
        cast(coalesce({{ exact_sum('reported_energy_wh') }}, 0) / 1000.0 as double) as total_energy_kwh,
        cast({{ exact_avg('reported_energy_wh') }} / 1000.0 as double) as avg_energy_kwh,
        cast(coalesce({{ exact_sum('total_cost_eur') }}, 0) as double) as total_cost_eur,
        cast(min(started_at) as timestamp) as first_session_started_at,
        cast(max(ended_at) as timestamp) as last_session_ended_at,
        cast(count(*) filter (where has_energy_mismatch) as bigint) as sessions_with_energy_mismatch
    from briefings
    group by charger_id
)

select * from final
