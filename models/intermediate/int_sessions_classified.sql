{#- One row per non-blank raw session line, with its reason code: null when the session is kept. -#}
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
        first_value(values_hash) over by_session_id as first_hash_of_session_id
    from sessions
    where reason_code is null
    window by_session_id as (
        partition by session_id
        order by source_file asc, line_number asc
    )
),

well_formed_classified as (
    select
        * exclude (reason_code, session_id_rank, first_hash_of_session_id),
        case
            when session_id_rank = 1 then null
            when values_hash = first_hash_of_session_id then 'exact_duplicate'
            else 'conflicting_duplicate'
        end as reason_code
    from ranked_by_session_id
),

all_classified as (
    select * from well_formed_classified
    union all by name
    select * from sessions
    where reason_code is not null
),

-- The raw text is kept for rejected lines only: the input files are the archive of the others.
final as (
    select
        * exclude (raw_line, values_hash),
        case when reason_code is not null then raw_line end as raw_line
    from all_classified
)

select * from final  -- noqa: AM04
