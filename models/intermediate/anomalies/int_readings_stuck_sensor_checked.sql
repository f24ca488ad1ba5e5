{#- One row per reading and phase with a voltage: the run of unchanged voltages it belongs to, and whether
    that run is a stuck sensor. A view: read once, by int_anomaly_episodes_detected. -#}
{{ config(materialized='view') }}
with

phase_readings as (
    select
        reading_id,
        charger_id,
        session_id,
        phase,
        reading_seq,
        corrected_measured_at,
        voltage_v,
        values_hash
    from {{ ref('int_phase_readings_sequenced') }}
    where voltage_v is not null
),

-- A run is a voltage and its unchanged repeats on the following readings of the phase. A grid's
-- voltage is noisy: most runs are one reading long, and are measured on the spot. Only the readings of
-- longer runs are numbered and grouped into their runs, the costly part (a sort and a partitioning).
runs_bounded as (
    select
        *,
        coalesce(voltage_v <> lag(voltage_v) over by_charger_phase, true) as starts_run,
        coalesce(voltage_v <> lead(voltage_v) over by_charger_phase, true) as ends_run
    from phase_readings
    window by_charger_phase as (partition by charger_id, phase order by reading_seq asc)
),

runs_numbered as (
    select
        *,
        sum(cast(starts_run as int)) over (
            partition by charger_id, phase order by reading_seq asc rows between unbounded preceding and current row
        ) as run_seq
    from runs_bounded
    where not (starts_run and ends_run)
),

-- A grid's voltage always carries some noise, so a long run of one value is a frozen sensor, unless
-- the whole reading froze (the same nine values repeated: a stale reading sent again, not a sensor);
-- an interrupted phase (voltage near 0) is a phase loss.
runs_measured as (
    select
        {{ star_except(['run_seq']) }},
        count(*) over by_run as run_reading_count,
        {{ seconds_between('min(corrected_measured_at) over by_run', 'max(corrected_measured_at) over by_run') }}
            as run_duration_s,
        min(values_hash) over by_run <> max(values_hash) over by_run as has_other_values_moving
    from runs_numbered
    window by_run as (partition by charger_id, phase, run_seq)
    {{ union_all_by_name() }}
    select
        *,
        cast(1 as bigint) as run_reading_count,
        {{ seconds_between('corrected_measured_at', 'corrected_measured_at') }} as run_duration_s,
        -- as min(values_hash) <> max(values_hash) over one reading: false, unknown without a hash
        case when values_hash is not null then false end as has_other_values_moving
    from runs_bounded
    where starts_run and ends_run
),

final as (
    select
        reading_id,
        charger_id,
        session_id,
        phase,
        reading_seq,
        corrected_measured_at,
        voltage_v,
        run_reading_count,
        run_duration_s,
        run_reading_count >= {{ var('stuck_min_readings') }}
        and run_duration_s >= {{ var('stuck_min_duration_s') }}
        and has_other_values_moving
        and voltage_v >= {{ voltage_limits().interruption_v }} as is_stuck
    from runs_measured
)

select * from final
