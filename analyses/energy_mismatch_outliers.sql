-- Sessions whose telemetry-integrated energy disagrees with the reported energy, with what may
-- explain it (gaps, sparse telemetry, missing measurements, clock errors). Compile with `dbt compile` and run the
-- SQL from target/compiled against the warehouse.
with

briefings as (
    select * from {{ ref('fct_session_briefings') }}
),

final as (
    select
        session_id,
        charger_id,
        started_at,
        reported_energy_wh,
        telemetry_energy_wh,
        energy_ratio,
        reading_count,
        gap_count,
        largest_gap_s,
        has_sparse_telemetry,
        missing_measurement_share,
        clock_error_reading_count
    from briefings
    where has_energy_mismatch
)

select * from final
order by abs(energy_ratio - 1) desc nulls first
