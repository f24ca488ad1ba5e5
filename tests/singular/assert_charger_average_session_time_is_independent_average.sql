-- Recomputes the average session time per charger straight from the de-duplicated session events
-- (end minus start, in seconds) and fails for every charger where the mart disagrees.
with

independent_averages as (
    select
        charger_id,
        count(*) as session_count,
        sum(ended_epoch_s - started_epoch_s) * 1.0 / count(*) as avg_session_duration_s
    from {{ ref('int_sessions_deduplicated') }}
    group by charger_id
),

charger_summaries as (
    select
        charger_id,
        session_count,
        avg_session_duration_s
    from {{ ref('fct_charger_summaries') }}
)

select
    coalesce(independent_averages.charger_id, charger_summaries.charger_id) as charger_id,
    independent_averages.avg_session_duration_s as expected_avg_s,
    charger_summaries.avg_session_duration_s as actual_avg_s
from independent_averages
full outer join charger_summaries on independent_averages.charger_id = charger_summaries.charger_id
where
    independent_averages.charger_id is null
    or charger_summaries.charger_id is null
    or independent_averages.session_count <> charger_summaries.session_count
    or abs(independent_averages.avg_session_duration_s - charger_summaries.avg_session_duration_s) > 1e-6
