-- On sessions with complete telemetry (no gap, not sparse, no missing measurement, no clock or
-- overlap problem) the energy integrated from telemetry must agree with the reported energy: at least
-- 90 % of them within 2 %, and their median ratio within 0.5 % of 1. Labelled anomalies (a meter that
-- reports wrong energy) are the expected exceptions, hence a share and not every session.
with

clean_sessions as (
    select energy_ratio
    from {{ ref('fct_session_briefings') }}
    where
        not has_no_telemetry
        and not has_sparse_telemetry
        and missing_measurement_reading_count = 0
        and clock_error_reading_count = 0
        and not is_overlapping
        and gap_count = 0
        and reported_energy_wh >= 1000
),

agreement as (
    select
        count(*) as session_count,
        count(*) filter (where abs(energy_ratio - 1) <= 0.02) as agreeing_sessions,
        median(energy_ratio) as median_ratio
    from clean_sessions
)

select *
from agreement
where
    session_count = 0
    or agreeing_sessions < 0.9 * session_count
    or abs(median_ratio - 1) > 0.005
