{#- One row per non-blank raw session line, with its reason code: null when the session is kept. -#}
{#- Incremental as int_readings_classified: new files are parsed once and ranked with the earlier
    lines of their session ids. -#}
{{ config(
    materialized=incremental_materialization(),
    incremental_strategy='delete+insert',
    unique_key=['source_file', 'line_number'],
    on_schema_change='sync_all_columns',
    post_hook=["{{ restore_raw_lines() }}"],
) }}
with

-- Materialised in an incremental build: DuckDB rewrites a window aggregate below as a join of
-- its input with itself, and the copy it makes would scan every file again, without the filter.
sessions as {% if is_incremental() %}materialized {% endif %}(
    select * from {{ ref('stg_charger_logs__sessions') }}
    {%- if is_incremental() %}
        where {{ new_log_files_filter('charger_log_session') }}
    {%- endif %}
),

well_formed_sessions as (
    select * from sessions
    where reason_code is null
),

{%- if is_incremental() %}

-- Earlier lines with the session id of a new line: the new line may come first by file and line.
-- (None in a full build, which leaves it out.)
history_rerankable as (
    select {{ star_except(['reason_code', 'raw_line', 'refreshed_at']) }}
    from {{ this }}
    where
        (reason_code is null or reason_code in ('exact_duplicate', 'conflicting_duplicate'))
        and session_id in (select well_formed_sessions.session_id from well_formed_sessions)
),
{%- endif %}

candidates as (
    select {{ star_except(['reason_code']) }} from well_formed_sessions
    {%- if is_incremental() %}
        union all by name
        select * from history_rerankable
    {%- endif %}
),

-- The first occurrence of a session id wins (file, then line); a later line with the same id is a
-- duplicate when its values agree and a conflict when they do not.
ranked_by_session_id as (
    select
        *,
        row_number() over by_session_id as session_id_rank,
        first_value(values_hash) over by_session_id as first_hash_of_session_id
    from candidates
    window by_session_id as (
        partition by session_id
        order by source_file asc, line_number asc
    )
),

well_formed_classified as (
    select
        {{ star_except(['session_id_rank', 'first_hash_of_session_id']) }},
        case
            when session_id_rank = 1 then null
            when values_hash = first_hash_of_session_id then 'exact_duplicate'
            else 'conflicting_duplicate'
        end as reason_code
    from ranked_by_session_id
),

all_classified as (
    select * from well_formed_classified
    {{ union_all_by_name() }}
    select
        {{ star_except(['reason_code']) }},
        reason_code
    from sessions
    where reason_code is not null
),

-- The raw text is kept for the quarantined lines only, as in int_readings_classified.
final as (
    select
        {{ star_except(['raw_line']) }},
        case when reason_code <> 'exact_duplicate' then raw_line end as raw_line,
        {{ build_refreshed_at() }} as refreshed_at
    from all_classified
)

select * from final  -- noqa: AM04
