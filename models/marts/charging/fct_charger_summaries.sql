{#- One row per charger with at least one charging session: session counts, session times and energy. -#}
{{ charger_scoped_config(on_schema_change='append_new_columns') }}
with

briefings as (
    select * from {{ ref('fct_session_briefings') }}
    where {{ is_charger_changed() }}
),

final as (
    select
        charger_id,
        count(*) as session_count,
        avg(session_duration_s) as avg_session_duration_s,
        avg(session_duration_s) / 3600.0 as avg_session_duration_h,
        {{ percentile_cont('session_duration_s', 0.5) }} as median_session_duration_s,
        {{ percentile_cont('session_duration_s', 0.9) }} as p90_session_duration_s,
        min(session_duration_s) as min_session_duration_s,
        max(session_duration_s) as max_session_duration_s,
        {{ exact_avg('active_charging_s') }} as avg_active_charging_s,
        coalesce({{ exact_sum('reported_energy_wh') }}, 0) / 1000.0 as total_energy_kwh,
        {{ exact_avg('reported_energy_wh') }} / 1000.0 as avg_energy_kwh,
        coalesce({{ exact_sum('total_cost_eur') }}, 0) as total_cost_eur,
        min(corrected_started_at) as first_session_started_at,
        max(corrected_ended_at) as last_session_ended_at,
        count(*) filter (where has_energy_mismatch) as sessions_with_energy_mismatch
    from briefings
    group by charger_id
)

select * from final
