-- How far from the reported energy sessions with lost telemetry are, with gaps counted as zero
-- (measured energy alone) and with the linear bridge across gaps (telemetry energy): sessions with
-- at least one gap reporting at least 1 kWh. Compile with `dbt compile --select lost_telemetry_energy`
-- and run the SQL from target/compiled against the warehouse.
with

briefings as (
    select * from {{ ref('fct_session_briefings') }}
),

sessions_with_gaps as (
    select
        abs(measured_energy_wh / reported_energy_wh - 1) as measured_error,
        abs(energy_ratio - 1) as bridged_error,
        has_energy_mismatch
    from briefings
    where gap_count > 0 and reported_energy_wh >= 1000
),

final as (
    select
        has_energy_mismatch,
        count(*) as session_count,
        round(avg(measured_error) * 100, 2) as mean_error_gaps_as_zero_pct,
        round(avg(bridged_error) * 100, 2) as mean_error_gaps_bridged_pct,
        round(max(bridged_error) * 100, 2) as max_error_gaps_bridged_pct
    from sessions_with_gaps
    group by has_energy_mismatch
)

select * from final
order by has_energy_mismatch
