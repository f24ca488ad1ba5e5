{#- One row per non-blank raw session line, with what became of it: kept, quarantined or dropped as a duplicate. -#}
with

sessions as (
    select * from {{ ref('stg_charger_logs__sessions') }}
),

-- The first occurrence of a session id wins (file, then line); a later line with the same id is a
-- duplicate when its values agree and a conflict when they do not.
ranked_by_session_id as (
    select
        *,
        row_number() over by_session_id as session_id_rank,
        first_value(payload_hash) over by_session_id as first_hash_of_session_id
    from sessions
    where rejection_reason is null
    window by_session_id as (
        partition by session_id
        order by source_file asc, line_number asc
    )
),

valid_classified as (
    select
        * exclude (session_id_rank, first_hash_of_session_id),
        case
            when session_id_rank = 1 then null
            when payload_hash = first_hash_of_session_id then 'exact_duplicate'
            else 'conflicting_duplicate'
        end as disposition_reason
    from ranked_by_session_id
),

-- Both branches carry every staging column; `union all by name` matches them by name.
final as (
    select
        *,
        case
            when disposition_reason is null then 'clean'
            when disposition_reason = 'exact_duplicate' then 'duplicate'
            else 'quarantined'
        end as disposition
    from valid_classified
    union all by name
    select
        sessions.*,
        'quarantined' as disposition,
        sessions.rejection_reason as disposition_reason
    from sessions
    where sessions.rejection_reason is not null
)

select * from final  -- noqa: AM04
