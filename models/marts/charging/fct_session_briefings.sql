{#- One row per charging session: its time, energy, cost, charging profile summary and data-quality flags. -#}
{%- set measures = [('current', 'a'), ('voltage', 'v'), ('temperature', 'c')] -%}
{#- an interval of active charging: integrated (no gap) and its mean total power above the threshold -#}
{%- set active_interval = 'not is_gap_before and (previous_power_w + power_w) / 2.0 > '
    ~ var('active_power_threshold_w') -%}
with

sessions as (
    select * from {{ ref('int_sessions_deduplicated') }}
),

session_readings as (
    select * from {{ ref('int_session_readings_integrated') }}
),

status_events as (
    select * from {{ ref('int_status_events_sessionized') }}
),

reading_stats as (
    select
        session_id,
        count(*) as sample_count,
        min(charger_epoch_s) as first_sample_epoch_s,
        max(charger_epoch_s) as last_sample_epoch_s,
        max(interval_s) as largest_sample_interval_s,
        count(*) filter (where is_gap_before) as gap_count,
        {{ exact_sum('interval_energy_wh') }} as telemetry_energy_wh,
        sum(interval_s) filter (where {{ active_interval }}) as active_charging_s,
        {{ exact_sum('case when ' ~ active_interval ~ ' then interval_energy_wh end') }} as active_energy_wh,
        max(power_w) as peak_power_w,
        count(*) filter (where has_missing_measurement) as samples_with_missing_measurement,
        {%- for phase in [1, 2, 3] %}
            {%- for measure, unit in measures %}
                min({{ measure }}_l{{ phase }}_{{ unit }}) as min_{{ measure }}_l{{ phase }}_{{ unit }},
                {{ exact_avg(measure ~ '_l' ~ phase ~ '_' ~ unit) }} as avg_{{ measure }}_l{{ phase }}_{{ unit }},
                max({{ measure }}_l{{ phase }}_{{ unit }}) as max_{{ measure }}_l{{ phase }}_{{ unit }},
            {%- endfor %}
        {%- endfor %}
        (coalesce(max(current_l1_a), 0) > {{ var('phase_in_use_current_a') }})::int
        + (coalesce(max(current_l2_a), 0) > {{ var('phase_in_use_current_a') }})::int
        + (coalesce(max(current_l3_a), 0) > {{ var('phase_in_use_current_a') }})::int as phases_used
    from session_readings
    group by session_id
),

-- Measurements of the session's charger whose charger clock was wrong and that reached the server
-- between the session's start and its end plus late_arrival_threshold_s.
clock_problems as (
    select
        sessions.session_id,
        count(*) as clock_error_samples
    from sessions
    inner join status_events
        on
            sessions.charger_id = status_events.charger_id
            and status_events.server_epoch_s
            between sessions.start_epoch_s
            and sessions.end_epoch_s + {{ var('late_arrival_threshold_s') }}
    where status_events.attribution = 'clock_error'
    group by sessions.session_id
),

briefings as (
    select
        sessions.*,
        coalesce(reading_stats.sample_count, 0) as sample_count,
        coalesce(reading_stats.telemetry_energy_wh, 0) as telemetry_energy_wh,
        coalesce(reading_stats.active_charging_s, 0) as active_charging_s,
        reading_stats.active_energy_wh,
        reading_stats.peak_power_w,
        reading_stats.gap_count,
        reading_stats.phases_used,
        reading_stats.samples_with_missing_measurement,
        {%- for phase in [1, 2, 3] %}
            {%- for measure, unit in measures %}
                {%- for stat in ['min', 'avg', 'max'] %}
                    reading_stats.{{ stat }}_{{ measure }}_l{{ phase }}_{{ unit }},
                {%- endfor %}
            {%- endfor %}
        {%- endfor %}
        -- the longest stretch without a sample, counting the session's start and end as edges
        case
            when reading_stats.sample_count is null then sessions.session_duration_s
            else greatest(
                coalesce(reading_stats.largest_sample_interval_s, 0),
                reading_stats.first_sample_epoch_s - sessions.start_epoch_s,
                sessions.end_epoch_s - reading_stats.last_sample_epoch_s
            )
        end as largest_gap_s,
        coalesce(clock_problems.clock_error_samples, 0) as clock_error_samples
    from sessions
    left join reading_stats on sessions.session_id = reading_stats.session_id
    left join clock_problems on sessions.session_id = clock_problems.session_id
),

final as (
    select
        cast(session_id as bigint) as session_id,
        cast(charger_id as bigint) as charger_id,
        cast(user_id as bigint) as user_id,
        cast(started_at as timestamp) as started_at,
        cast(ended_at as timestamp) as ended_at,
        cast(session_duration_s as bigint) as session_duration_s,
        cast(session_duration_s / 3600.0 as double) as session_duration_h,
        cast(active_charging_s as bigint) as active_charging_s,
        cast(session_duration_s - active_charging_s as bigint) as idle_plugged_in_s,
        cast(energy_wh as double) as reported_energy_wh,
        cast(telemetry_energy_wh as double) as telemetry_energy_wh,
        cast(telemetry_energy_wh / nullif(energy_wh, 0) as double) as energy_ratio,
        cast(total_cost_eur as double) as total_cost_eur,
        cast(unit_price_eur_per_kwh as double) as unit_price_eur_per_kwh,
        -- the reported cost equals, to the cent, the energy charged at the default price
        cast(
            abs(total_cost_eur - round(energy_kwh * {{ var('default_unit_price_eur_per_kwh') }}, 2)) < 0.00001
            as boolean
        ) as is_default_price,
        cast(peak_power_w as double) as peak_power_w,
        cast(active_energy_wh * 3600.0 / nullif(active_charging_s, 0) as double) as avg_charging_power_w,
        cast(phases_used as integer) as phases_used,
        {%- for phase in [1, 2, 3] %}
            {%- for measure, unit in measures %}
                {%- for stat in ['min', 'avg', 'max'] %}
                    {%- set column = stat ~ '_' ~ measure ~ '_l' ~ phase ~ '_' ~ unit %}
                    cast({{ column }} as double) as {{ column }},
                {%- endfor %}
            {%- endfor %}
        {%- endfor %}
        cast(sample_count as bigint) as sample_count,
        cast(largest_gap_s as bigint) as largest_gap_s,
        cast(coalesce(gap_count, 0) as bigint) as gap_count,
        cast(sample_count = 0 as boolean) as has_no_telemetry,
        cast(
            sample_count * {{ var('nominal_sample_interval_s') }}
            < {{ var('sparse_telemetry_min_coverage') }} * session_duration_s
            or largest_gap_s > {{ var('sparse_telemetry_max_gap_s') }}
            as boolean
        ) as has_sparse_telemetry,
        cast(
            sample_count > 0 and (
                case
                    when energy_wh > 0
                        then abs(telemetry_energy_wh / energy_wh - 1) > {{ var('energy_mismatch_tolerance') }}
                    else telemetry_energy_wh > 0
                end
            )
            as boolean
        ) as has_energy_mismatch,
        cast(is_overlapping as boolean) as is_overlapping,
        cast(clock_error_samples > 0 as boolean) as has_clock_problem,
        cast(coalesce(samples_with_missing_measurement, 0) > 0 as boolean) as has_missing_measurements
    from briefings
)

select * from final
