-- Sessions whose telemetry energy (measured, plus the estimate across gaps) disagrees with the
-- reported energy, with what may explain it (gaps, sparse telemetry, missing measurements, a
-- corrected clock). Compile with `dbt compile` and run the SQL from target/compiled against the
-- warehouse.
with

briefings as (
    select * from {{ ref('fct_session_briefings') }}
),

final as (
    select
        session_id,
        charger_id,
        corrected_started_at,
        reported_energy_wh,
        telemetry_energy_wh,
        energy_ratio,
        reading_count,
        gap_count,
        largest_gap_s,
        has_sparse_telemetry,
        missing_measurement_share,
        is_clock_corrected,
        estimated_gap_energy_wh,
        is_shortfall_from_lost_telemetry
    from briefings
    where has_energy_mismatch
)

select * from final
order by abs(energy_ratio - 1) desc nulls first
