-- The energy the telemetry accounts for (measured, plus the estimate across gaps) agrees with the
-- reported energy: of the sessions with readings that are not sparse nor overlapping and report at
-- least 1 kWh, gaps included, at least 90 % within 2 % and the median ratio within 0.5 % of 1.
-- Labelled anomalies (a meter that reports wrong energy) are the expected exceptions, hence a share.
-- A statement about the data's distribution, not a broken contract: it warns (its failing row is
-- stored) and never stops a build, which may hold only a slice of the stream.
{{ config(severity='warn', store_failures=true) }}
with

checked_sessions as (
    select energy_ratio
    from {{ ref('fct_session_briefings') }}
    where
        not has_no_telemetry
        and not has_sparse_telemetry
        and not is_overlapping
        and reported_energy_wh >= 1000
),

agreement as (
    select
        count(*) as session_count,
        count(*) filter (where abs(energy_ratio - 1) <= 0.02) as agreeing_sessions,
        median(energy_ratio) as median_ratio
    from checked_sessions
)

select *
from agreement
where
    session_count = 0
    or agreeing_sessions < 0.9 * session_count
    or abs(median_ratio - 1) > 0.005
