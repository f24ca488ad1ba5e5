{#- One row per kept reading, with its charger's clock offset and its measured time corrected to true time. -#}
{#- A table: four models read it (attribution, the anomaly readings, dim_chargers, the sessions in
    progress), and a view would repeat its two ASOF joins for each. Incremental: each changed charger
    is rebuilt from its earliest changed reading on, or from its earliest reading whose clock offset
    a new upload moved (every reading of a charger whose clock is corrected is matched to its period
    again, and only those from there on are written). -#}
{{ charger_window_config() }}
with

{%- if is_incremental() %}
line_change_windows as (
    {{ charger_change_windows() }}
),

corrected_chargers as (
    {{ corrected_clock_chargers(this) }}
),
{%- endif %}

-- Two branches, not one join with an "or": the first keeps its filter on the measured time, and the
-- second reads nothing when no corrected charger changed (usually).
readings as (
    select deduplicated.*
    from {{ ref('int_readings_deduplicated') }} as deduplicated
    {%- if is_incremental() %}
        inner join line_change_windows
            on
                deduplicated.charger_id = line_change_windows.charger_id
                and deduplicated.measured_epoch_s >= line_change_windows.rebuilt_from_epoch_s
        where deduplicated.charger_id not in (select corrected_chargers.charger_id from corrected_chargers)
        union all
        select deduplicated.*
        from {{ ref('int_readings_deduplicated') }} as deduplicated
        where deduplicated.charger_id in (select corrected_chargers.charger_id from corrected_chargers)
    {%- endif %}
),

clock_periods as (
    select
        charger_id,
        first_measured_epoch_s,
        level_skew_s,
        clock_offset_s
    from {{ ref('int_charger_clock_periods') }}
    where {{ is_charger_changed() }}
),

-- Most chargers have one clock period (a clock never reset). Their readings take it with a hash join;
-- the ASOF joins below, which sort the readings they join, serve the others only.
multi_period_chargers as (
    select charger_id
    from clock_periods
    group by charger_id
    having count(*) > 1
),

single_period_readings as (
    select * from readings
    where charger_id not in (select multi_period_chargers.charger_id from multi_period_chargers)
),

multi_period_readings as (
    select * from readings
    where charger_id in (select multi_period_chargers.charger_id from multi_period_chargers)
),

-- A reading's skew (received minus measured) is its upload delay, never negative, plus its clock's
-- error: it belongs to the clock level of its charger with the highest skew at or below its own
-- (give or take clock_ahead_tolerance_s, as the level is a percentile). Levels are at least
-- clock_error_threshold_s apart, so a late upload stays on its level; a batch that holds readings
-- from both sides of a time sync splits between the two levels.
periods_by_upload as (
    {{ asof_join(
        'multi_period_readings', 'clock_periods', keys=[('charger_id', 'charger_id')],
        left_value='multi_period_readings.received_epoch_s - multi_period_readings.measured_epoch_s + '
        ~ var('clock_ahead_tolerance_s'),
        right_value='clock_periods.level_skew_s',
        right_columns={'upload_period_offset_s': 'clock_offset_s'},
    ) }}
),

-- A reading without a received time is placed as a session is, by the charger's own clock: the
-- period of its charger that began last, by that clock, at or before it (none: offset 0).
periods_by_charger_clock as (
    {{ asof_join(
        'periods_by_upload', 'clock_periods', keys=[('charger_id', 'charger_id')],
        left_value='periods_by_upload.measured_epoch_s',
        right_value='clock_periods.first_measured_epoch_s',
        right_columns={'charger_clock_period_offset_s': 'clock_offset_s'},
    ) }}
),

-- The same two rules for a charger's only period: its level by the skew, else its start by the
-- charger's clock, else offset 0 (also for a charger without any period).
periods_matched as (
    select
        {{ star_except(['upload_period_offset_s', 'charger_clock_period_offset_s']) }},
        coalesce(upload_period_offset_s, charger_clock_period_offset_s, 0) as clock_offset_s
    from periods_by_charger_clock
    {{ union_all_by_name() }}
    select
        single_period_readings.*,
        case
            when
                single_period_readings.received_epoch_s - single_period_readings.measured_epoch_s
                + {{ var('clock_ahead_tolerance_s') }} >= clock_periods.level_skew_s
                then clock_periods.clock_offset_s
            when single_period_readings.measured_epoch_s >= clock_periods.first_measured_epoch_s
                then clock_periods.clock_offset_s
            else 0
        end as clock_offset_s
    from single_period_readings
    left join clock_periods on single_period_readings.charger_id = clock_periods.charger_id
),

{%- if is_incremental() %}

offset_changes as (
    {{ clock_offset_changes('periods_matched', this, 'corrected_chargers') }}
),

-- The changed lines' windows again, now with the rows whose offset moved.
change_windows as (
    {{ charger_change_windows('offset_changes') }}
),
{%- endif %}

final as (
    select
        {{ star_except(['clock_offset_s'], 'periods_matched') }},
        {%- if is_incremental() %}
            change_windows.rebuilt_from_epoch_s,
        {%- else %}
            cast(0 as bigint) as rebuilt_from_epoch_s,
        {%- endif %}
        periods_matched.clock_offset_s,
        periods_matched.clock_offset_s <> 0 as is_clock_corrected,
        {{ epoch_to_timestamp('periods_matched.measured_epoch_s - periods_matched.clock_offset_s') }}
            as corrected_measured_at,
        -- late against the corrected time: a reset clock is no late upload
        coalesce(
            periods_matched.received_epoch_s - (periods_matched.measured_epoch_s - periods_matched.clock_offset_s)
            > {{ var('late_arrival_threshold_s') }},
            false
        ) as is_late_arrival
    from periods_matched
    {%- if is_incremental() %}
        inner join change_windows
            on
                periods_matched.charger_id = change_windows.charger_id
                and periods_matched.measured_epoch_s >= change_windows.rebuilt_from_epoch_s
    {%- endif %}
)

select * from final  -- noqa: AM04
