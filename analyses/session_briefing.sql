-- The briefing and big changes of one session: `dbt compile --select session_briefing
-- --vars '{brief_session_id: 3580880}'`, then run the compiled SQL against the warehouse.
with

briefings as (
    select * from {{ ref('fct_session_briefings') }}
),

big_changes as (
    select * from {{ ref('rpt_big_changes') }}
),

change_counts as (
    select
        session_id,
        count(*) as big_change_count,
        count(*) filter (where measure = 'temperature_c') as temperature_changes
    from big_changes
    group by session_id
),

final as (
    select
        briefings.session_id,
        briefings.charger_id,
        briefings.started_at,
        briefings.ended_at,
        briefings.session_duration_h,
        briefings.active_charging_s,
        briefings.reported_energy_wh,
        briefings.telemetry_energy_wh,
        briefings.peak_power_w,
        briefings.phases_used,
        coalesce(change_counts.big_change_count, 0) as big_change_count,
        coalesce(change_counts.temperature_changes, 0) as temperature_changes
    from briefings
    left join change_counts on briefings.session_id = change_counts.session_id
    where briefings.session_id = {{ var('brief_session_id') }}
)

select * from final
