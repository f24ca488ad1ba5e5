{#- One row per charging session: version 1's briefing with its idle time told from its time without readings. -#}
{#- v1's idle_plugged_in_s is the session time minus active charging: time without any reading counts as
    idle, so a session whose telemetry was lost looks like a car left plugged in for hours. v2 splits
    it into measured_idle_s (readings show the car plugged in, not charging) and unmeasured_s (no
    reading: gaps and the stretches before the first and after the last reading). -#}
{%- set stat_columns = [] -%}
{%- for phase in [1, 2, 3] -%}
    {%- for measure, unit in [('current', 'a'), ('voltage', 'v'), ('temperature', 'c')] -%}
        {%- for stat in ['min', 'avg', 'max'] -%}
            {%- do stat_columns.append(stat ~ '_' ~ measure ~ '_l' ~ phase ~ '_' ~ unit) -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endfor -%}
{{ session_scoped_config() }}
with

briefings as (
    select * from {{ ref('fct_session_briefings', v=1) }}
    where {{ is_session_refreshed() }}
),

session_readings as (
    select
        session_id,
        interval_s,
        is_gap_before
    from {{ ref('int_session_readings_integrated') }}
    where {{ is_session_refreshed() }}
),

-- Time covered by readings: the intervals between consecutive readings that are not gaps.
measured_times as (
    select
        session_id,
        -- a sum of bigints is a hugeint in DuckDB
        cast(sum(interval_s) filter (where not is_gap_before) as bigint) as measured_s
    from session_readings
    group by session_id
),

final as (
    select
        briefings.session_id,
        briefings.charger_id,
        briefings.user_id,
        briefings.corrected_started_at,
        briefings.corrected_ended_at,
        briefings.started_at,
        briefings.ended_at,
        briefings.clock_offset_s,
        briefings.is_clock_corrected,
        briefings.session_duration_s,
        briefings.session_duration_h,
        briefings.active_charging_s,
        coalesce(measured_times.measured_s, 0) - briefings.active_charging_s as measured_idle_s,
        briefings.session_duration_s - coalesce(measured_times.measured_s, 0) as unmeasured_s,
        briefings.reported_energy_wh,
        briefings.measured_energy_wh,
        briefings.estimated_gap_energy_wh,
        briefings.telemetry_energy_wh,
        briefings.estimated_energy_share,
        briefings.energy_ratio,
        briefings.total_cost_eur,
        briefings.unit_price_eur_per_kwh,
        briefings.is_default_price,
        briefings.peak_power_w,
        briefings.avg_charging_power_w,
        briefings.phases_used,
        {%- for column in stat_columns %}
            briefings.{{ column }},
        {%- endfor %}
        briefings.reading_count,
        briefings.largest_gap_s,
        briefings.gap_count,
        briefings.estimated_gap_count,
        briefings.has_no_telemetry,
        briefings.has_sparse_telemetry,
        briefings.has_energy_mismatch,
        briefings.is_shortfall_from_lost_telemetry,
        briefings.energy_mismatch_tolerance,
        briefings.is_overlapping,
        briefings.is_implausible,
        briefings.missing_measurement_reading_count,
        briefings.missing_measurement_share,
        briefings.implausible_reading_count
    from briefings
    left join measured_times on briefings.session_id = measured_times.session_id
)

select * from final
