{#- One row per charging session: its time, energy, cost, charging profile summary and data-quality figures. -#}
{%- set measures = [('current', 'a'), ('voltage', 'v'), ('temperature', 'c')] -%}
{%- set stat_columns = [] -%}
{%- for phase in [1, 2, 3] -%}
    {%- for measure, unit in measures -%}
        {%- for stat in ['min', 'avg', 'max'] -%}
            {%- do stat_columns.append((stat, measure ~ '_l' ~ phase ~ '_' ~ unit)) -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endfor -%}
{{ session_scoped_config() }}
with

sessions as (
    select * from {{ ref('int_sessions_clock_corrected') }}
    where {{ is_session_refreshed() }}
),

session_readings as (
    select * from {{ ref('int_session_readings_integrated') }}
    where {{ is_session_refreshed() }}
),

reading_stats as (
    select
        session_id,
        count(*) as reading_count,
        min(measured_epoch_s) as first_reading_epoch_s,
        max(measured_epoch_s) as last_reading_epoch_s,
        max(interval_s) as largest_reading_interval_s,
        count(*) filter (where is_gap_before) as gap_count,
        count(*) filter (where is_gap_before and interval_estimated_energy_wh > 0) as estimated_gap_count,
        {{ exact_sum('interval_energy_wh') }} as measured_energy_wh,
        {{ exact_sum('interval_estimated_energy_wh') }} as estimated_gap_energy_wh,
        -- a sum of bigints is a hugeint in DuckDB
        cast(sum(interval_s) filter (where is_active_interval) as bigint) as active_charging_s,
        {{ exact_sum('case when is_active_interval then interval_energy_wh end') }} as active_energy_wh,
        max(power_w) as peak_power_w,
        count(*) filter (where has_missing_measurement) as missing_measurement_reading_count,
        count(*) filter (where is_implausible) as implausible_reading_count,
        {%- for stat, column in stat_columns %}
            {%- if stat == 'avg' %}
                {{ exact_avg(column) }} as avg_{{ column }},
            {%- else %}
                {{ stat }}({{ column }}) as {{ stat }}_{{ column }},
            {%- endif %}
        {%- endfor %}
        cast(coalesce(max(current_l1_a), 0) > {{ var('phase_in_use_current_a') }} as int)
        + cast(coalesce(max(current_l2_a), 0) > {{ var('phase_in_use_current_a') }} as int)
        + cast(coalesce(max(current_l3_a), 0) > {{ var('phase_in_use_current_a') }} as int) as phases_used
    from session_readings
    group by session_id
),

briefings as (
    select
        sessions.*,
        coalesce(reading_stats.reading_count, 0) as reading_count,
        coalesce(reading_stats.measured_energy_wh, 0) as measured_energy_wh,
        coalesce(reading_stats.estimated_gap_energy_wh, 0) as estimated_gap_energy_wh,
        coalesce(reading_stats.measured_energy_wh, 0) + coalesce(reading_stats.estimated_gap_energy_wh, 0)
            as telemetry_energy_wh,
        coalesce(reading_stats.active_charging_s, 0) as active_charging_s,
        reading_stats.active_energy_wh,
        reading_stats.peak_power_w,
        reading_stats.phases_used,
        coalesce(reading_stats.gap_count, 0) as gap_count,
        coalesce(reading_stats.estimated_gap_count, 0) as estimated_gap_count,
        coalesce(reading_stats.missing_measurement_reading_count, 0) as missing_measurement_reading_count,
        coalesce(reading_stats.implausible_reading_count, 0) as implausible_reading_count,
        {%- for stat, column in stat_columns %}
            reading_stats.{{ stat }}_{{ column }},
        {%- endfor %}
        -- the longest stretch without a reading, counting the session's start and end as edges
        case
            when reading_stats.reading_count is null then sessions.session_duration_s
            else greatest(
                coalesce(reading_stats.largest_reading_interval_s, 0),
                reading_stats.first_reading_epoch_s - sessions.started_epoch_s,
                sessions.ended_epoch_s - reading_stats.last_reading_epoch_s
            )
        end as largest_gap_s
    from sessions
    left join reading_stats on sessions.session_id = reading_stats.session_id
),

-- Energy agreement, rounded so that exactly the tolerance is not "more than" it despite binary
-- fractions: of the telemetry (measured plus estimated across gaps), and of the measured part alone.
energy_checked as (
    select
        *,
        case
            when energy_wh > 0
                then round(abs(telemetry_energy_wh / energy_wh - 1), 6) > {{ var('energy_mismatch_tolerance') }}
            else telemetry_energy_wh > 0
        end as is_telemetry_off,
        case
            when energy_wh > 0
                then round(abs(measured_energy_wh / energy_wh - 1), 6) > {{ var('energy_mismatch_tolerance') }}
            else measured_energy_wh > 0
        end as is_measured_off
    from briefings
),

final as (
    select
        session_id,
        charger_id,
        user_id,
        corrected_started_at,
        corrected_ended_at,
        started_at,
        ended_at,
        clock_offset_s,
        is_clock_corrected,
        session_duration_s,
        session_duration_s / 3600 as session_duration_h,
        active_charging_s,
        session_duration_s - active_charging_s as idle_plugged_in_s,
        energy_wh as reported_energy_wh,
        measured_energy_wh,
        estimated_gap_energy_wh,
        telemetry_energy_wh,
        estimated_gap_energy_wh / nullif(telemetry_energy_wh, 0) as estimated_energy_share,
        telemetry_energy_wh / nullif(energy_wh, 0) as energy_ratio,
        total_cost_eur,
        unit_price_eur_per_kwh,
        -- the reported cost equals, to the cent, the energy charged at the default price
        abs(total_cost_eur - round(energy_wh / 1000.0 * {{ var('default_unit_price_eur_per_kwh') }}, 2)) < 0.00001
            as is_default_price,
        peak_power_w,
        active_energy_wh * 3600.0 / nullif(active_charging_s, 0) as avg_charging_power_w,
        phases_used,
        {%- for stat, column in stat_columns %}
            {{ stat }}_{{ column }},
        {%- endfor %}
        reading_count,
        largest_gap_s,
        gap_count,
        estimated_gap_count,
        reading_count = 0 as has_no_telemetry,
        (
            reading_count * {{ var('nominal_sample_interval_s') }}
            < {{ var('sparse_telemetry_min_coverage') }} * session_duration_s
            or largest_gap_s > {{ var('sparse_telemetry_max_gap_s') }}
        ) as has_sparse_telemetry,
        -- a metering fault or an unexplained difference: telemetry, gaps estimated, disagrees
        reading_count > 0 and is_telemetry_off as has_energy_mismatch,
        -- a shortfall that lost telemetry explains: off when measured alone, right with the gaps estimated
        reading_count > 0 and is_measured_off and not is_telemetry_off as is_shortfall_from_lost_telemetry,
        -- a literal such as 0.05 is a decimal in DuckDB
        cast({{ var('energy_mismatch_tolerance') }} as double) as energy_mismatch_tolerance,
        is_overlapping,
        is_implausible,
        missing_measurement_reading_count,
        missing_measurement_reading_count / nullif(reading_count, 0) as missing_measurement_share,
        implausible_reading_count
    from energy_checked
)

select * from final
