{#- One row per non-blank raw status line, with its reason code: null when the reading is kept. -#}
{#- Incremental: a build parses only the lines of files it has not seen, and ranks them for duplicates
    against the history (every earlier line with one of their reading ids or one of their charger and
    measured-time pairs), so the outcome equals a build of every file at once. -#}
{{ config(
    materialized=incremental_materialization(),
    incremental_strategy='delete+insert',
    unique_key=['source_file', 'line_number'],
    on_schema_change='sync_all_columns',
    post_hook=["{{ restore_raw_lines() }}"],
) }}
{%- set charging_as_amperes = 'current_l{p}_a * 100 >= ' ~ var('charging_current_min_a') -%}
with

-- Materialised in an incremental build: DuckDB rewrites a window aggregate below as a join of
-- its input with itself, and the copy it makes would scan every file again, without the filter.
parsed_readings as {% if is_incremental() %}materialized {% endif %}(
    select * from {{ ref('stg_charger_logs__readings') }}
    {%- if is_incremental() %}
        where {{ new_log_files_filter('charger_log_status') }}
    {%- endif %}
),

-- A unit change shows in the range of a charger's values, not in one line: the well-formed readings
-- of one charger in one file are judged together (docs/schema_policy.md, vars unit_check_*); a
-- file is always classified whole, in one build. sum(case ...) rather than count(*) filter (...):
-- DuckDB evaluates a window aggregate with a filter row by row over the whole partition.
units_measured as (
    select
        {{ star_except(['raw_line']) }},
        sum(case when {{ any_phase(charging_as_amperes) }} then 1 else 0 end) over file_charger
            as charging_currents_as_amperes,
        max(greatest(current_l1_a, current_l2_a, current_l3_a)) over file_charger as max_current_a,
        sum(case when {{ any_phase('voltage_l{p}_v > 0') }} then 1 else 0 end) over file_charger
            as voltages_above_zero,
        max(greatest(voltage_l1_v, voltage_l2_v, voltage_l3_v)) over file_charger as max_voltage_v
    from parsed_readings
    window file_charger as (partition by source_file, charger_id, reason_code is null)
),

-- Current in amperes: read as centiamperes none reaches unit_check_current_max_a, yet at least
-- unit_check_min_readings are charging currents read as amperes (var charging_current_min_a).
-- Voltage in kilovolts: at least unit_check_min_readings voltages above 0, none reaching
-- unit_check_voltage_max_v.
readings as (
    select
        {{ star_except([
            'reason_code', 'charging_currents_as_amperes', 'max_current_a', 'voltages_above_zero', 'max_voltage_v'
        ]) }},
        case
            when reason_code is not null then reason_code
            when
                coalesce(
                    charging_currents_as_amperes >= {{ var('unit_check_min_readings') }}
                    and max_current_a < {{ var('unit_check_current_max_a') }},
                    false
                )
                or coalesce(
                    voltages_above_zero >= {{ var('unit_check_min_readings') }}
                    and max_voltage_v < {{ var('unit_check_voltage_max_v') }},
                    false
                )
                then 'unit_mismatch'
        end as reason_code
    from units_measured
),

well_formed_readings as (
    select * from readings
    where reason_code is null
),

{%- if is_incremental() %}

-- The rows of earlier builds that new lines can re-rank: the same reading id, or the same charger and
-- measured time, and, one step further, the rows sharing either key with those (a conflicting
-- duplicate under another charger or time). None in a full build, which leaves them out. The keys are
-- searched in the history's narrow key columns (not materialised: a copy of the history would cost
-- more than its scans), and only the rows found are read whole, by their row id (stable within this
-- statement).
history_keys as not materialized (
    select
        rowid as history_row_id,
        reading_id,
        charger_id,
        measured_epoch_s
    from {{ this }}
    where
        reason_code is null
        or reason_code in ('exact_duplicate', 'resent_duplicate', 'conflicting_duplicate')
),

rerankable_keys_1 as (
    {{ rows_sharing_a_reading_key('history_keys', 'well_formed_readings', 'well_formed_readings') }}
),

-- One step further, only the keys of the rows found that no new line holds (the history rows with a
-- new line's key are found already). Usually there are none, and a semi-join with nothing to find
-- ends without reading the history.
further_reading_ids as (
    select rerankable_keys_1.reading_id
    from rerankable_keys_1
    where not exists (
        select 1
        from well_formed_readings
        where well_formed_readings.reading_id = rerankable_keys_1.reading_id
    )
),

further_measured_times as (
    select
        rerankable_keys_1.charger_id,
        rerankable_keys_1.measured_epoch_s
    from rerankable_keys_1
    where not exists (
        select 1
        from well_formed_readings
        where
            well_formed_readings.charger_id = rerankable_keys_1.charger_id
            and well_formed_readings.measured_epoch_s = rerankable_keys_1.measured_epoch_s
    )
),

rerankable_keys_2 as (
    select * from rerankable_keys_1
    union
    {{ rows_sharing_a_reading_key('history_keys', 'further_reading_ids', 'further_measured_times') }}
),

history_rerankable as (
    select history.*
    from {{ this }} as history
    where history.rowid in (select rerankable_keys_2.history_row_id from rerankable_keys_2)
),
{%- endif %}

candidates as (
    select {{ star_except(['reason_code']) }} from well_formed_readings
    {%- if is_incremental() %}
        union all by name
        select {{ star_except(['reason_code', 'raw_line', 'refreshed_at']) }} from history_rerankable
    {%- endif %}
),

-- Duplicates are rare: find the reading ids and the (charger, measured time) pairs seen more than
-- once with two narrow hash aggregations, and rank only those rows, instead of sorting every line.
repeated_reading_ids as (
    select reading_id
    from candidates
    group by reading_id
    having count(*) > 1
),

repeated_measurements as (
    select
        charger_id,
        measured_epoch_s
    from candidates
    group by charger_id, measured_epoch_s
    having count(*) > 1
),

repeated_readings as (
    select candidates.*
    from candidates
    where
        candidates.reading_id in (select repeated_reading_ids.reading_id from repeated_reading_ids)
        or exists (
            select 1
            from repeated_measurements
            where
                repeated_measurements.charger_id = candidates.charger_id
                and repeated_measurements.measured_epoch_s = candidates.measured_epoch_s
        )
),

-- Rule for every tie below: the earliest arrival wins (server time, then file, then line), so the
-- outcome does not depend on the order in which files are listed or read.
ranked_by_reading_id as (
    select
        *,
        row_number() over by_reading_id as reading_id_rank,
        first_value(values_hash) over by_reading_id as first_hash_of_reading_id
    from repeated_readings
    window by_reading_id as (
        partition by reading_id
        order by received_epoch_s asc nulls last, source_file asc, line_number asc
    )
),

-- Among the first row of each reading id: the same charger and measured time seen again under a new
-- id is a re-sent batch when the values agree, a conflict when they do not.
ranked_by_measurement as (
    select
        *,
        row_number() over by_measurement as measurement_rank,
        first_value(values_hash) over by_measurement as first_hash_of_measurement
    from ranked_by_reading_id
    window by_measurement as (
        partition by charger_id, measured_epoch_s, reading_id_rank = 1
        order by received_epoch_s asc nulls last, reading_id asc, source_file asc, line_number asc
    )
),

repeated_classified as (
    select
        {{ star_except([
            'reading_id_rank', 'first_hash_of_reading_id', 'measurement_rank', 'first_hash_of_measurement'
        ]) }},
        case
            when reading_id_rank > 1 and values_hash = first_hash_of_reading_id then 'exact_duplicate'
            when reading_id_rank > 1 then 'conflicting_duplicate'
            when measurement_rank > 1 and values_hash = first_hash_of_measurement then 'resent_duplicate'
            when measurement_rank > 1 then 'conflicting_duplicate'
        end as reason_code
    from ranked_by_measurement
),

unique_readings as (
    select
        *,
        null as reason_code
    from candidates
    where not exists (
        select 1
        from repeated_readings
        where
            repeated_readings.source_file = candidates.source_file
            and repeated_readings.line_number = candidates.line_number
    )
),

rejected_readings as (
    select * from readings
    where reason_code is not null
),

-- The raw text is kept for the quarantined lines only (a copy is named by its file and line): the
-- input files are the archive of the others. It stays out of the steps above, whose window and
-- copies would otherwise hold every line's text (and spill it to disk in a large build): the few
-- lines that keep it read it from their files again. A line kept by an earlier build that a new
-- arrival turns into a conflict gets its text back after the build (post-hook restore_raw_lines).
lines_keeping_text as (
    select * from rejected_readings
    {{ union_all_by_name() }}
    select * from repeated_classified
    where reason_code = 'conflicting_duplicate'
),

-- The lines of the files this build reads, their text included. A full build reads them again, which
-- costs less than carrying every line's text through the steps above; an incremental build has them
-- materialised already.
status_lines as (
    select
        source_file,
        line_number,
        raw_line
    {%- if is_incremental() %}
        from parsed_readings
    {%- else %}
        from {{ ref('base_charger_logs__status_lines') }}
    {%- endif %}
),

-- Filtered with a semi-join: the lines keeping their text are few, and are what the hash table holds.
kept_texts as (
    select
        source_file,
        line_number,
        raw_line
    from status_lines
    where exists (
        select 1
        from lines_keeping_text
        where
            lines_keeping_text.source_file = status_lines.source_file
            and lines_keeping_text.line_number = status_lines.line_number
    )
),

all_classified as (
    select
        *,
        cast(null as {{ dbt.type_string() }}) as raw_line
    from repeated_classified
    where reason_code is distinct from 'conflicting_duplicate'
    {{ union_all_by_name() }}
    select
        *,
        cast(null as {{ dbt.type_string() }}) as raw_line
    from unique_readings
    {{ union_all_by_name() }}
    select
        lines_keeping_text.*,
        kept_texts.raw_line
    from lines_keeping_text
    left join kept_texts
        on
            lines_keeping_text.source_file = kept_texts.source_file
            and lines_keeping_text.line_number = kept_texts.line_number
),

final as (
    select
        *,
        {{ build_refreshed_at() }} as refreshed_at
    from all_classified
)

select * from final  -- noqa: AM04
