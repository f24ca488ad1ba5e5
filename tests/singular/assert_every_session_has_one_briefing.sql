-- Fails with every session id that has no briefing, more than one, or a briefing without a session.
with

sessions as (
    select session_id from {{ ref('int_sessions_deduplicated') }}
),

briefings as (
    select session_id from {{ ref('fct_session_briefings') }}
),

briefing_counts as (
    select
        session_id,
        count(*) as briefing_count
    from briefings
    group by session_id
)

select
    coalesce(sessions.session_id, briefing_counts.session_id) as session_id,
    coalesce(briefing_counts.briefing_count, 0) as briefing_count
from sessions
full outer join briefing_counts on sessions.session_id = briefing_counts.session_id
where sessions.session_id is null or coalesce(briefing_counts.briefing_count, 0) <> 1
