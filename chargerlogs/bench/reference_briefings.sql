-- The briefing job of the dbt models as one plain DuckDB statement: the yardstick of the model
-- benchmark (`python -m chargerlogs.bench_models`, see docs/benchmark.md). From the same log files it
-- writes one row per charging session with at least one reading: the reading count, the measured
-- energy, the peak power and the min/avg/max of every phase measurement, the columns of the same
-- names in marts.fct_session_briefings.
--
-- Its inputs are DuckDB variables, the only values it takes from outside. The benchmark sets the two
-- paths and gives each threshold the value of the dbt var of the same name in dbt_project.yml:
--     set variable status_files = '<data folder>/charger_log_status/*.json*';
--     set variable session_files = '<data folder>/charger_log_session/*.json*';
--     set variable max_integration_gap_s = 300;
--
-- Its rules are the models' rules:
-- - Lines: only *.json and *.json.gz files are read. A line is kept as staging keeps it: a JSON
--   object whose key fields are present, JSON integers and positive; whose measurements are JSON
--   numbers (a number written as a string is type drift); whose server time is a number or an ISO
--   time; whose phase array names each of phases 1-3 at most once; with no negative current or
--   voltage and no temperature below absolute zero. Sessions likewise (end not before start, no
--   negative energy or cost).
-- - De-duplication, as int_readings_classified: the earliest arrival of a reading id wins (server
--   time, then file), then among those the earliest arrival of a charger's measured time (server
--   time, then lower reading id, then file). Sessions, as int_sessions_classified: the first
--   occurrence of a session id (file, then position in the file).
-- - Readings and session events are matched in the charger's own clock, which they share, right or
--   wrong (the models correct both to true time afterwards, which changes no match).
-- - A reading belongs to the latest-started session of its charger that contains it (start <=
--   measured time <= end; of two starting in the same second, the higher id). The ASOF join and the
--   nested-overlap fallback of int_session_readings_attributed compute exactly this; here it is
--   written as the rule reads: a range join, then the latest start.
-- - Energy, as int_session_readings_integrated: power is V x I per phase (a missing phase adds
--   nothing), trapezoidal rule between consecutive readings, no energy across an interval longer
--   than max_integration_gap_s.
--
-- Every difference from the models:
-- 1. No line ledger: a rejected line is dropped without a reason code, a count or its raw text;
--    nothing reports unexpected keys or reconciles line counts.
-- 2. No line numbers. Two lines of one status file with the same reading id (or the same charger and
--    measured time) and the same server time: the models keep the earlier line, here either may win.
--    Sessions are few, so their scan order stands in for line numbers and the rule is the same.
-- 3. Sums and means are plain double aggregates. The mart adds values rounded to 1e-6 as exact
--    decimals (macro exact_sum), so a figure may differ in its last digits.
-- 4. Only the aggregates above, only for sessions with readings: no session columns (times,
--    reported energy, cost, flags), no gaps or their estimated energy, no clock offsets or corrected
--    times, no active-charging time or data-quality counts, no per-reading profile (accumulated
--    energy), no big changes.
-- 5. Schema drift (docs/schema_policy.md): a number written as a string is type drift here, as in
--    the models with var strict_json_types only (by default they read it); a renamed field and a
--    unit change of a charger's values in a file (renamed_field, unit_mismatch) are not looked for.
--    The generated data has none of them.
create table reference_briefings as

with

-- Every value is read as raw JSON so that its type can be checked. A malformed line comes back as a
-- row of nulls, dropped below with the lines that miss a key field.
status_lines as (
    select
        filename as source_file,
        id,
        charger_id,
        charger_timestamp,
        server_timestamp,
        ac_current_rms_1,
        ac_voltage_rms_1,
        temperature_1,
        ac_current_rms_2,
        ac_voltage_rms_2,
        temperature_2,
        ac_current_rms_3,
        ac_voltage_rms_3,
        temperature_3,
        charger_phases
    from
        read_json(
            getvariable('status_files'),
            format = 'newline_delimited',
            ignore_errors = true,
            filename = true,
            columns = {
                'id': 'JSON',
                'charger_id': 'JSON',
                'charger_timestamp': 'JSON',
                'server_timestamp': 'JSON',
                'ac_current_rms_1': 'JSON',
                'ac_voltage_rms_1': 'JSON',
                'temperature_1': 'JSON',
                'ac_current_rms_2': 'JSON',
                'ac_voltage_rms_2': 'JSON',
                'temperature_2': 'JSON',
                'ac_current_rms_3': 'JSON',
                'ac_voltage_rms_3': 'JSON',
                'temperature_3': 'JSON',
                'charger_phases': 'JSON'
            }
        )
    where filename like '%.json' or filename like '%.json.gz'
),

-- A phase array is read element by element; a charger_phases value that is not an array is type drift.
phase_arrays_read as (
    select
        * exclude (charger_phases),
        charger_phases is not null as is_nested,
        case when starts_with(cast(charger_phases as varchar), '[') then from_json(charger_phases, '[{
            "id": "JSON", "ac_current_rms": "JSON", "ac_voltage_rms": "JSON", "temperature": "JSON"
        }]') end as phase_list
    from status_lines
),

-- The nested layout names each phase by the element's own id, in any order: pick by id, not position.
phases_picked as (
    select
        *,
        case
            when cast(phase_list[1].id as varchar) = '1' then phase_list[1]
            when cast(phase_list[2].id as varchar) = '1' then phase_list[2]
            when cast(phase_list[3].id as varchar) = '1' then phase_list[3]
        end as nested_l1,
        case
            when cast(phase_list[1].id as varchar) = '2' then phase_list[1]
            when cast(phase_list[2].id as varchar) = '2' then phase_list[2]
            when cast(phase_list[3].id as varchar) = '2' then phase_list[3]
        end as nested_l2,
        case
            when cast(phase_list[1].id as varchar) = '3' then phase_list[1]
            when cast(phase_list[2].id as varchar) = '3' then phase_list[2]
            when cast(phase_list[3].id as varchar) = '3' then phase_list[3]
        end as nested_l3
    from phase_arrays_read
),

-- The JSON text of every value, whatever the layout (a string keeps its quotes).
value_texts as (
    select
        source_file,
        cast(id as varchar) as reading_id_text,
        cast(charger_id as varchar) as charger_id_text,
        cast(charger_timestamp as varchar) as measured_text,
        cast(server_timestamp as varchar) as received_text,
        cast(case when not is_nested then ac_current_rms_1 else nested_l1.ac_current_rms end as varchar)
            as current_l1_text,
        cast(case when not is_nested then ac_voltage_rms_1 else nested_l1.ac_voltage_rms end as varchar)
            as voltage_l1_text,
        cast(case when not is_nested then temperature_1 else nested_l1.temperature end as varchar)
            as temperature_l1_text,
        cast(case when not is_nested then ac_current_rms_2 else nested_l2.ac_current_rms end as varchar)
            as current_l2_text,
        cast(case when not is_nested then ac_voltage_rms_2 else nested_l2.ac_voltage_rms end as varchar)
            as voltage_l2_text,
        cast(case when not is_nested then temperature_2 else nested_l2.temperature end as varchar)
            as temperature_l2_text,
        cast(case when not is_nested then ac_current_rms_3 else nested_l3.ac_current_rms end as varchar)
            as current_l3_text,
        cast(case when not is_nested then ac_voltage_rms_3 else nested_l3.ac_voltage_rms end as varchar)
            as voltage_l3_text,
        cast(case when not is_nested then temperature_3 else nested_l3.temperature end as varchar)
            as temperature_l3_text,
        -- a phase array must name each of phases 1-3 at most once
        not is_nested or coalesce(
            len(phase_list) <= 3
            and len(phase_list)
            = cast(nested_l1 is not null as int)
            + cast(nested_l2 is not null as int)
            + cast(nested_l3 is not null as int),
            false
        ) as has_valid_phases
    from phases_picked
),

-- A key field is used only when its text is a JSON integer that fits; a measurement only when it is a
-- JSON number; a server time only when it is a number or a string holding an ISO time.
typed_readings as (
    select
        source_file,
        case
            when regexp_full_match(reading_id_text, '-?[0-9]+') then try_cast(reading_id_text as bigint)
        end as reading_id,
        case
            when regexp_full_match(charger_id_text, '-?[0-9]+') then try_cast(charger_id_text as bigint)
        end as charger_id,
        case
            when regexp_full_match(measured_text, '-?[0-9]+') then try_cast(measured_text as bigint)
        end as measured_epoch_s,
        case
            when starts_with(received_text, '"')
                then epoch(try_cast(json_extract_string(received_text, '$') as timestamptz))
            else try_cast(received_text as double)
        end as received_epoch_s,
        received_text,
        try_cast(current_l1_text as double) / 100.0 as current_l1_a,
        try_cast(voltage_l1_text as double) as voltage_l1_v,
        try_cast(temperature_l1_text as double) as temperature_l1_c,
        try_cast(current_l2_text as double) / 100.0 as current_l2_a,
        try_cast(voltage_l2_text as double) as voltage_l2_v,
        try_cast(temperature_l2_text as double) as temperature_l2_c,
        try_cast(current_l3_text as double) / 100.0 as current_l3_a,
        try_cast(voltage_l3_text as double) as voltage_l3_v,
        try_cast(temperature_l3_text as double) as temperature_l3_c,
        (current_l1_text is null or try_cast(current_l1_text as double) is not null)
        and (voltage_l1_text is null or try_cast(voltage_l1_text as double) is not null)
        and (temperature_l1_text is null or try_cast(temperature_l1_text as double) is not null)
        and (current_l2_text is null or try_cast(current_l2_text as double) is not null)
        and (voltage_l2_text is null or try_cast(voltage_l2_text as double) is not null)
        and (temperature_l2_text is null or try_cast(temperature_l2_text as double) is not null)
        and (current_l3_text is null or try_cast(current_l3_text as double) is not null)
        and (voltage_l3_text is null or try_cast(voltage_l3_text as double) is not null)
        and (temperature_l3_text is null or try_cast(temperature_l3_text as double) is not null)
            as has_numeric_measurements,
        has_valid_phases
    from value_texts
),

kept_readings as (
    select
        reading_id,
        charger_id,
        measured_epoch_s,
        received_epoch_s,
        source_file,
        current_l1_a,
        voltage_l1_v,
        temperature_l1_c,
        current_l2_a,
        voltage_l2_v,
        temperature_l2_c,
        current_l3_a,
        voltage_l3_v,
        temperature_l3_c
    from typed_readings
    where
        reading_id > 0
        and charger_id > 0
        and measured_epoch_s > 0
        and (received_text is null or received_epoch_s is not null)
        and has_numeric_measurements
        and has_valid_phases
        and not coalesce(
            current_l1_a < 0 or voltage_l1_v < 0 or temperature_l1_c < -273.15
            or current_l2_a < 0 or voltage_l2_v < 0 or temperature_l2_c < -273.15
            or current_l3_a < 0 or voltage_l3_v < 0 or temperature_l3_c < -273.15,
            false
        )
),

first_by_reading_id as (
    select * from kept_readings
    qualify row_number() over (
        partition by reading_id
        order by received_epoch_s asc nulls last, source_file asc
    ) = 1
),

first_by_measurement as (
    select * from first_by_reading_id
    qualify row_number() over (
        partition by charger_id, measured_epoch_s
        order by received_epoch_s asc nulls last, reading_id asc, source_file asc
    ) = 1
),

session_lines as (
    select
        filename as source_file,
        -- files are read one after another, each in line order: the scan position orders a file's lines
        row_number() over () as scan_position,
        cast(id as varchar) as session_id_text,
        cast(charger_id as varchar) as charger_id_text,
        cast(user_id as varchar) as user_id_text,
        cast(energy as varchar) as energy_text,
        cast(total_cost as varchar) as total_cost_text,
        cast(start_time as varchar) as started_text,
        cast(end_time as varchar) as ended_text
    from
        read_json(
            getvariable('session_files'),
            format = 'newline_delimited',
            ignore_errors = true,
            filename = true,
            columns = {
                'id': 'JSON',
                'charger_id': 'JSON',
                'user_id': 'JSON',
                'energy': 'JSON',
                'total_cost': 'JSON',
                'start_time': 'JSON',
                'end_time': 'JSON'
            }
        )
    where filename like '%.json' or filename like '%.json.gz'
),

typed_sessions as (
    select
        source_file,
        scan_position,
        case
            when regexp_full_match(session_id_text, '-?[0-9]+') then try_cast(session_id_text as bigint)
        end as session_id,
        case
            when regexp_full_match(charger_id_text, '-?[0-9]+') then try_cast(charger_id_text as bigint)
        end as charger_id,
        case
            when regexp_full_match(user_id_text, '-?[0-9]+') then try_cast(user_id_text as bigint)
        end as user_id,
        case
            when regexp_full_match(started_text, '-?[0-9]+') then try_cast(started_text as bigint)
        end as started_epoch_s,
        case
            when regexp_full_match(ended_text, '-?[0-9]+') then try_cast(ended_text as bigint)
        end as ended_epoch_s,
        try_cast(energy_text as double) as energy_wh,
        try_cast(total_cost_text as double) as total_cost_eur,
        user_id_text,
        energy_text,
        total_cost_text
    from session_lines
),

kept_sessions as (
    select
        session_id,
        charger_id,
        started_epoch_s,
        ended_epoch_s
    from typed_sessions
    where
        session_id > 0
        and charger_id > 0
        and started_epoch_s > 0
        and ended_epoch_s >= started_epoch_s
        and (user_id_text is null or user_id is not null)
        and (energy_text is null or energy_wh >= 0)
        and (total_cost_text is null or total_cost_eur >= 0)
    qualify row_number() over (
        partition by session_id
        order by source_file asc, scan_position asc
    ) = 1
),

session_readings as (
    select
        kept_sessions.session_id,
        first_by_measurement.charger_id,
        first_by_measurement.measured_epoch_s,
        first_by_measurement.current_l1_a,
        first_by_measurement.voltage_l1_v,
        first_by_measurement.temperature_l1_c,
        first_by_measurement.current_l2_a,
        first_by_measurement.voltage_l2_v,
        first_by_measurement.temperature_l2_c,
        first_by_measurement.current_l3_a,
        first_by_measurement.voltage_l3_v,
        first_by_measurement.temperature_l3_c
    from first_by_measurement
    inner join kept_sessions
        on
            first_by_measurement.charger_id = kept_sessions.charger_id
            and first_by_measurement.measured_epoch_s
            between kept_sessions.started_epoch_s and kept_sessions.ended_epoch_s
    qualify row_number() over (
        partition by first_by_measurement.reading_id
        order by kept_sessions.started_epoch_s desc, kept_sessions.session_id desc
    ) = 1
),

powered as (
    select
        *,
        coalesce(voltage_l1_v * current_l1_a, 0)
        + coalesce(voltage_l2_v * current_l2_a, 0)
        + coalesce(voltage_l3_v * current_l3_a, 0) as power_w
    from session_readings
),

lagged as (
    select
        *,
        measured_epoch_s - lag(measured_epoch_s) over by_session as interval_s,
        lag(power_w) over by_session as previous_power_w
    from powered
    window by_session as (partition by session_id order by measured_epoch_s asc)
),

integrated as (
    select
        *,
        case
            when interval_s <= getvariable('max_integration_gap_s')
                then (previous_power_w + power_w) / 2.0 * interval_s / 3600.0
            else 0.0
        end as interval_energy_wh
    from lagged
),

final as (
    select
        session_id,
        any_value(charger_id) as charger_id,
        count(*) as reading_count,
        sum(interval_energy_wh) as measured_energy_wh,
        max(power_w) as peak_power_w,
        min(current_l1_a) as min_current_l1_a,
        avg(current_l1_a) as avg_current_l1_a,
        max(current_l1_a) as max_current_l1_a,
        min(voltage_l1_v) as min_voltage_l1_v,
        avg(voltage_l1_v) as avg_voltage_l1_v,
        max(voltage_l1_v) as max_voltage_l1_v,
        min(temperature_l1_c) as min_temperature_l1_c,
        avg(temperature_l1_c) as avg_temperature_l1_c,
        max(temperature_l1_c) as max_temperature_l1_c,
        min(current_l2_a) as min_current_l2_a,
        avg(current_l2_a) as avg_current_l2_a,
        max(current_l2_a) as max_current_l2_a,
        min(voltage_l2_v) as min_voltage_l2_v,
        avg(voltage_l2_v) as avg_voltage_l2_v,
        max(voltage_l2_v) as max_voltage_l2_v,
        min(temperature_l2_c) as min_temperature_l2_c,
        avg(temperature_l2_c) as avg_temperature_l2_c,
        max(temperature_l2_c) as max_temperature_l2_c,
        min(current_l3_a) as min_current_l3_a,
        avg(current_l3_a) as avg_current_l3_a,
        max(current_l3_a) as max_current_l3_a,
        min(voltage_l3_v) as min_voltage_l3_v,
        avg(voltage_l3_v) as avg_voltage_l3_v,
        max(voltage_l3_v) as max_voltage_l3_v,
        min(temperature_l3_c) as min_temperature_l3_c,
        avg(temperature_l3_c) as avg_temperature_l3_c,
        max(temperature_l3_c) as max_temperature_l3_c
    from integrated
    group by session_id
)

select * from final
