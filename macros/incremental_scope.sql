{# Incremental builds by charger: what each run recomputes and how it remembers where it stopped. #}

{# The time of this build, stamped on the rows a run (re)writes in the change-tracked models. #}
{% macro build_refreshed_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}

{# The table that holds, per incremental model, the build time up to which it has taken in changes. #}
{% macro watermarks_relation() -%}
    {{ api.Relation.create(database=target.database, schema='intermediate', identifier='incremental_watermarks') }}
{%- endmacro %}

{# Run-start hook: the watermark table exists before any model reads it. #}
{% macro create_watermarks_table() -%}
    {{ return(adapter.dispatch('create_watermarks_table')()) }}
{%- endmacro %}

{#- Spark builds every model in full (see incremental_materialization): no watermark to keep. -#}
{% macro spark__create_watermarks_table() -%}
    select 1
{%- endmacro %}

{% macro default__create_watermarks_table() -%}
    create schema if not exists {{ adapter.quote(target.database) }}.intermediate;
    create table if not exists {{ watermarks_relation() }} (model_name varchar, refreshed_at timestamp);
    comment on table {{ watermarks_relation() }} is 'One row per incremental model: the start of the build up to which it has taken in changes (its post-hook writes it).';
    comment on column {{ watermarks_relation() }}.model_name is 'Name of the incremental model.';
    comment on column {{ watermarks_relation() }}.refreshed_at is 'Start (UTC) of the last build of the model that succeeded; rows stamped later are changes it has not taken in.'
{%- endmacro %}

{# Post-hook of an incremental model: it has taken in every change stamped up to this build. It runs
   in the model's transaction, so a failed build keeps the old watermark and the next one redoes it. #}
{% macro record_watermark() -%}
    {{ return(adapter.dispatch('record_watermark')()) }}
{%- endmacro %}

{% macro spark__record_watermark() -%}
    select 1
{%- endmacro %}

{% macro default__record_watermark() -%}
    delete from {{ watermarks_relation() }} where model_name = '{{ this.identifier }}';
    insert into {{ watermarks_relation() }} values ('{{ this.identifier }}', {{ build_refreshed_at() }})
{%- endmacro %}

{# True for a row (re)written after this model last took in changes (always true in a full build). #}
{% macro refreshed_since_last_build(column) -%}
    {%- if is_incremental() -%}
        {{ column }} > (
            select coalesce(max(watermarks.refreshed_at), '-infinity'::timestamp)
            from {{ watermarks_relation() }} as watermarks
            where watermarks.model_name = '{{ this.identifier }}'
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{# The chargers whose readings or session events changed since this model last took in changes: new
   lines, and older lines whose duplicate ranking a new line changed. #}
{% macro changed_chargers() -%}
    select readings.charger_id
    from {{ ref('int_readings_classified') }} as readings
    where {{ refreshed_since_last_build('readings.refreshed_at') }}
    union
    select sessions.charger_id
    from {{ ref('int_sessions_classified') }} as sessions
    where {{ refreshed_since_last_build('sessions.refreshed_at') }}
{%- endmacro %}

{# The upload batches (charger, received time) holding a status line (re)classified since this model
   last took in changes. #}
{% macro changed_upload_batches() -%}
    select distinct
        readings.charger_id,
        readings.received_epoch_s
    from {{ ref('int_readings_classified') }} as readings
    where
        {{ refreshed_since_last_build('readings.refreshed_at') }}
        and readings.received_epoch_s is not null
{%- endmacro %}

{# In an incremental build, true for the rows of the chargers that changed; true for all in a full build. #}
{% macro is_charger_changed(column='charger_id') -%}
    {%- if is_incremental() -%}
        {{ column }} in ({{ changed_chargers() }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{# Pre-hook of the models rebuilt charger by charger (or session by session): before the new rows
   are appended, delete every row of the changed chargers (sessions), including those that now have
   no row at all (a session that ended is no longer in progress). Both the hook and the model's
   select read the scope from the classified lines and the watermark, never from the model itself,
   so they agree; the hook runs in the model's transaction. #}
{% macro delete_rebuilt_rows(predicate) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ predicate }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{# The materialisation of an incremental model: `incremental` on DuckDB; on Spark a full `table`,
   rebuilt whole by every run (the near-real-time loop runs on DuckDB only). #}
{% macro incremental_materialization() -%}
    {{ return('table' if target.type == 'spark' else 'incremental') }}
{%- endmacro %}

{# The configuration shared by the models rebuilt charger by charger. #}
{% macro charger_scoped_config(on_schema_change='sync_all_columns') -%}
    {#- the changed chargers are read from the classified lines: declare them as parents (a unit
        test gives its model's inputs only, and builds it in full) -#}
    {%- if model.resource_type != 'unit_test' -%}
        {%- set classified_readings = ref('int_readings_classified') -%}
        {%- set classified_sessions = ref('int_sessions_classified') -%}
    {%- endif -%}
    {{ config(
        materialized=incremental_materialization(),
        incremental_strategy='append',
        on_schema_change=on_schema_change,
        pre_hook=["{{ delete_rebuilt_rows(is_charger_changed()) }}"],
        post_hook=["{{ record_watermark() }}"],
    ) }}
{%- endmacro %}

{# The filter that keeps the lines of the log files of a stream that this model has not taken in yet.
   From a lake, the new files are listed from its ledger and named by their bronze file, so that the
   scan opens only those; from a data folder, every file is read and the filter keeps the new ones. #}
{% macro new_log_files_filter(stream) -%}
    {%- set lake = env_var('CHARGER_LAKE_DIR', '') -%}
    {%- if lake -%}
        {%- set column = 'bronze_file' -%}
        {%- set query -%}
            select bronze_file from read_parquet('{{ lake }}/ledger.parquet')
            where log_stream = '{{ stream }}' and source_file not in (select distinct source_file from {{ this }})
        {%- endset -%}
    {%- else -%}
        {%- set column = 'source_file' -%}
        {%- set query -%}
            select file from {{ source('charger_logs', 'charger_log_files') }}
            where file like '%/{{ stream }}/%' and file not in (select distinct source_file from {{ this }})
        {%- endset -%}
    {%- endif -%}
    {%- set files = run_query(query).columns[0].values() if execute else [] -%}
    {{ column }} in (
        {%- for file in files | sort %}'{{ file | replace("'", "''") }}'{% if not loop.last %}, {% endif %}{% endfor -%}
        {%- if not files %}null{% endif -%}
    )
{%- endmacro %}

{# Post-hook of the classified lines: a line kept by an earlier build and made a conflicting duplicate
   by a later arrival was stored without its text; read it again from its file (bronze or input),
   opening only the files concerned. Runs only when there are such lines, which is rare. #}
{% macro restore_raw_lines() -%}
    {{ return(adapter.dispatch('restore_raw_lines')()) }}
{%- endmacro %}

{#- a full build on Spark keeps every line's text: nothing to restore -#}
{% macro spark__restore_raw_lines() -%}
    select 1
{%- endmacro %}

{% macro default__restore_raw_lines() -%}
    {%- set query -%}
        select distinct bronze_file from {{ this }}
        where reason_code = 'conflicting_duplicate' and raw_line is null
    {%- endset -%}
    {%- set files = run_query(query).columns[0].values() if execute else [] -%}
    {%- for file in files -%}
        {%- set quoted = "'" ~ (file | replace("'", "''")) ~ "'" -%}
        update {{ this }} as target
        set raw_line = file_lines.raw_line
        from (
            {%- if env_var('CHARGER_LAKE_DIR', '') %}
                select line_number, raw_line from read_parquet({{ quoted }})
            {%- else %}
                select
                    row_number() over () as line_number,
                    raw_line
                from read_csv(
                    {{ quoted }}, columns = {'raw_line': 'VARCHAR'}, header = false, delim = chr(1),
                    quote = '', escape = '', auto_detect = false, null_padding = false
                )
            {%- endif %}
        ) as file_lines
        where
            target.bronze_file = {{ quoted }}
            and target.line_number = file_lines.line_number
            and target.reason_code = 'conflicting_duplicate'
            and target.raw_line is null;
    {% endfor -%}
    select 1
{%- endmacro %}

{# Per changed charger, the time (charger clock, UNIX s) from which its rows are rebuilt: the earliest
   reading or session start that changed since this model last took in changes, or, in
   `offset_changes` (a relation of charger_id and changed_epoch_s, see clock_offset_changes), the
   earliest row whose clock offset a new upload moved. Rows before that time keep their values: a
   reading's session, power and energy depend only on it, its session and the readings before it,
   and its offset is compared. #}
{% macro charger_change_windows(offset_changes=none) -%}
    select
        changes.charger_id,
        min(changes.changed_epoch_s) as rebuilt_from_epoch_s
    from (
        select
            readings.charger_id,
            readings.measured_epoch_s as changed_epoch_s
        from {{ ref('int_readings_classified') }} as readings
        where {{ refreshed_since_last_build('readings.refreshed_at') }}
        union all
        select
            sessions.charger_id,
            sessions.started_epoch_s as changed_epoch_s
        from {{ ref('int_sessions_classified') }} as sessions
        where {{ refreshed_since_last_build('sessions.refreshed_at') }}
        {%- if offset_changes %}
            union all
            select
                offset_changes.charger_id,
                offset_changes.changed_epoch_s
            from {{ offset_changes }} as offset_changes
        {%- endif %}
    ) as changes
    where changes.charger_id is not null and changes.changed_epoch_s is not null
    group by changes.charger_id
{%- endmacro %}

{# The changed chargers whose clock was corrected, now (their clock periods) or before (`stored_rows`:
   the model's own rows). A new upload can move their periods' offsets, and with them the offset of
   any of their rows, however old: their rows' offsets are compared (clock_offset_changes). #}
{% macro corrected_clock_chargers(stored_rows) -%}
    select changed.charger_id
    from ({{ changed_chargers() }}) as changed
    where
        changed.charger_id in (
            select periods.charger_id
            from {{ ref('int_charger_clock_periods') }} as periods
            where periods.clock_offset_s <> 0
        )
        or changed.charger_id in (
            select stored.charger_id
            from {{ stored_rows }} as stored
            where stored.clock_offset_s <> 0
        )
{%- endmacro %}

{# Per charger of `chargers`, the earliest time (`time_column`, charger clock) of a row whose clock
   offset differs between `new_rows` and `stored_rows` (the model's own rows), matched by `key`: the
   rows from there on are rebuilt. A row on one side only is a changed line, which
   charger_change_windows takes in already. #}
{% macro clock_offset_changes(new_rows, stored_rows, chargers, key='reading_id', time_column='measured_epoch_s') -%}
    select
        new_rows.charger_id,
        min(new_rows.{{ time_column }}) as changed_epoch_s
    from {{ new_rows }} as new_rows
    inner join {{ stored_rows }} as stored_rows
        on new_rows.{{ key }} = stored_rows.{{ key }}
    where
        new_rows.charger_id in (select {{ chargers }}.charger_id from {{ chargers }})
        and stored_rows.charger_id in (select {{ chargers }}.charger_id from {{ chargers }})
        and new_rows.clock_offset_s is distinct from stored_rows.clock_offset_s
    group by new_rows.charger_id
{%- endmacro %}

{# Custom incremental strategy `charger_window`: delete the rows of each charger in the new rows from
   its `rebuilt_from_epoch_s` on (by `window_column`, default `measured_epoch_s`), then insert the new
   rows. Rows that vanished inside the window (a reading that became a duplicate) go with them. #}
{% macro get_incremental_charger_window_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- set window_column = config.get('window_column', 'measured_epoch_s') -%}
    delete from {{ target }} as existing
    using (
        select
            charger_id,
            min(rebuilt_from_epoch_s) as rebuilt_from_epoch_s
        from {{ source }}
        group by charger_id
    ) as rebuilt
    where
        existing.charger_id = rebuilt.charger_id
        and existing.{{ window_column }} >= rebuilt.rebuilt_from_epoch_s;
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }}
{%- endmacro %}

{# The configuration of the per-reading models rebuilt by charger from the time a change reaches. #}
{% macro charger_window_config() -%}
    {%- if model.resource_type != 'unit_test' -%}
        {%- set classified_readings = ref('int_readings_classified') -%}
        {%- set classified_sessions = ref('int_sessions_classified') -%}
        {%- set clock_periods = ref('int_charger_clock_periods') -%}
    {%- endif -%}
    {{ config(
        materialized=incremental_materialization(),
        incremental_strategy='charger_window',
        on_schema_change='sync_all_columns',
        post_hook=["{{ record_watermark() }}"],
    ) }}
{%- endmacro %}

{# The sessions rebuilt since this model last took in changes (their clock-corrected row was rewritten). #}
{% macro is_session_refreshed(column='session_id') -%}
    {%- if is_incremental() -%}
        {{ column }} in (
            select refreshed.session_id
            from {{ ref('int_sessions_clock_corrected') }} as refreshed
            where {{ refreshed_since_last_build('refreshed.refreshed_at') }}
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{# The configuration of the models rebuilt session by session. Its meta says so to the publication of
   the serving copy (chargerlogs.publish), which then rewrites only the sessions stamped again. #}
{% macro session_scoped_config(on_schema_change='append_new_columns') -%}
    {%- if model.resource_type != 'unit_test' -%}
        {%- set refreshed_sessions = ref('int_sessions_clock_corrected') -%}
    {%- endif -%}
    {{ config(
        materialized=incremental_materialization(),
        incremental_strategy='append',
        on_schema_change=on_schema_change,
        pre_hook=["{{ delete_rebuilt_rows(is_session_refreshed()) }}"],
        post_hook=["{{ record_watermark() }}"],
        meta={'rebuilt_by': 'session_id', 'rebuilt_when_refreshed': 'int_sessions_clock_corrected'},
    ) }}
{%- endmacro %}

{# The filter that keeps, of the readings of the chargers a build of the sessions in progress
   recomputes, at least every one from which a charge in progress can start, as a constant lower bound
   of their corrected time, so that the readings' scan skips the history before any join.

   A charge in progress starts at a charger's first charging reading after its last session ended (by
   the charger's clock). For a changed charger, that start is not earlier than:
   - its last session's end, when one of its session events changed since the last build (a session
     can be added, or taken away by the duplicate rules, which moves its last end either way);
   - otherwise, the earlier of its stored charge's start (the model's own rows, read here, before the
     pre-hook deletes them) and its earliest reading changed since the last build. The readings before
     both are the ones the last build judged, unchanged, after the same last session end, and none of
     them started a charge, or the stored one did.
   So an idle charger costs the readings of its latest batch, not those since its last session (days
   for a charger rarely used, all of them for a charger without a session). The bound in corrected
   time is that start less the largest clock offset of the charger's readings (0 unless its clock is
   corrected, and only then are its readings' offsets read): by the charger's clock, one wrong by
   years from the start would pull the bound back by years, and every charger of the build with it
   (a clock reset backwards still does: its readings before the reset keep offset 0). The earliest
   over the chargers is the bound. This relies on the stored rows being right: after a change of a
   var they depend on, rebuild with --full-refresh. In a full build, which takes every reading, the
   filter keeps all. #}
{% macro unsessioned_readings_filter() -%}
    {#- the clock periods are read at build time: declare them as a parent (a unit test gives its
        model's inputs only, and builds it in full) -#}
    {%- if model.resource_type != 'unit_test' -%}
        {%- set clock_periods = ref('int_charger_clock_periods') -%}
    {%- endif -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return('true') }}
    {%- endif -%}
    {%- set query -%}
        with changed as (
            {{ changed_chargers() }}
        ),

        changed_session_chargers as (
            select distinct sessions.charger_id
            from {{ ref('int_sessions_classified') }} as sessions
            where {{ refreshed_since_last_build('sessions.refreshed_at') }}
        ),

        earliest_changed_readings as (
            select
                readings.charger_id,
                min(readings.measured_epoch_s) as changed_epoch_s
            from {{ ref('int_readings_classified') }} as readings
            where {{ refreshed_since_last_build('readings.refreshed_at') }}
            group by readings.charger_id
        ),

        stored_charge_starts as (
            select
                charge_readings.charger_id,
                min(charge_readings.measured_epoch_s) as started_epoch_s
            from {{ this }} as charge_readings
            group by charge_readings.charger_id
        ),

        last_sessions as (
            select
                sessions.charger_id,
                max(sessions.ended_epoch_s) as last_ended_epoch_s
            from {{ ref('int_sessions_clock_corrected') }} as sessions
            group by sessions.charger_id
        ),

        largest_offsets as (
            select
                readings.charger_id,
                max(readings.clock_offset_s) as clock_offset_s
            from {{ ref('int_readings_clock_corrected') }} as readings
            where readings.charger_id in (
                select periods.charger_id
                from {{ clock_periods }} as periods
                where periods.clock_offset_s <> 0 and periods.charger_id in (select changed.charger_id from changed)
            )
            group by readings.charger_id
        ),

        -- per charger, a charger-clock time before the first reading of a charge in progress
        earliest_starts as (
            select
                changed.charger_id,
                case
                    when changed_session_chargers.charger_id is not null
                        then coalesce(last_sessions.last_ended_epoch_s, 0)
                    -- least and greatest skip nulls; a changed line without a measured time keeps the last end
                    else greatest(
                        coalesce(last_sessions.last_ended_epoch_s, 0),
                        least(stored_charge_starts.started_epoch_s, earliest_changed_readings.changed_epoch_s) - 1
                    )
                end as earliest_epoch_s
            from changed
            left join changed_session_chargers on changed.charger_id = changed_session_chargers.charger_id
            left join earliest_changed_readings on changed.charger_id = earliest_changed_readings.charger_id
            left join stored_charge_starts on changed.charger_id = stored_charge_starts.charger_id
            left join last_sessions on changed.charger_id = last_sessions.charger_id
            where changed.charger_id is not null
        )

        select min(earliest_starts.earliest_epoch_s - coalesce(largest_offsets.clock_offset_s, 0))
        from earliest_starts
        left join largest_offsets on earliest_starts.charger_id = largest_offsets.charger_id
    {%- endset -%}
    {%- set bound = run_query(query).columns[0].values()[0] -%}
    {%- if bound is none -%}
        {{ return('true') }}
    {%- endif -%}
    {{ return('corrected_measured_at > ' ~ epoch_to_timestamp('cast(' ~ (bound | int) ~ ' as bigint)')) }}
{%- endmacro %}

{# The rows of `rows` that share a key with other rows: a reading id of `reading_ids_from`, or a
   charger and measured time of `measured_times_from`. One search per key rather than one OR of both:
   each is a plain semi-join, and one whose relation is empty ends without reading `rows`. #}
{% macro rows_sharing_a_reading_key(rows, reading_ids_from, measured_times_from) -%}
    select {{ rows }}.*
    from {{ rows }}
    where {{ rows }}.reading_id in (select {{ reading_ids_from }}.reading_id from {{ reading_ids_from }})
    union
    select {{ rows }}.*
    from {{ rows }}
    where exists (
        select 1
        from {{ measured_times_from }}
        where
            {{ measured_times_from }}.charger_id = {{ rows }}.charger_id
            and {{ measured_times_from }}.measured_epoch_s = {{ rows }}.measured_epoch_s
    )
{%- endmacro %}
