{#- One row per detector episode: a run of consecutive readings of one charger phase that one detector
    flagged, with its evidence. fct_anomalies merges the episodes of one kind into anomalies. -#}
{%- set limits = voltage_limits() -%}
{#- One entry per detector and kind: (detector, kind, measure, checks, flag, observed, expected, limit,
    critical), the last four as SQL over that checks relation. -#}
{%- set voltage = ('voltage_v', 'voltage_checks') -%}
{%- set temperature = ('temperature_c', 'temperature_checks') -%}
{%- set overheating_critical = 'is_at_stop_limit or is_trip' -%}
{%- set branches = [
    ('voltage_10min_mean', 'voltage_sag', voltage, 'is_sag_sustained',
        'interval_mean_voltage_v', 'expected_voltage_v', limits.sustained_low_v, 'false'),
    ('voltage_10min_mean', 'voltage_swell', voltage, 'is_swell_sustained',
        'interval_mean_voltage_v', 'expected_voltage_v', limits.sustained_high_v, 'false'),
    ('voltage_deep_reading', 'voltage_sag', voltage, 'is_sag_deep',
        'voltage_v', 'expected_voltage_v', limits.deep_low_v, 'true'),
    ('voltage_deep_reading', 'voltage_swell', voltage, 'is_swell_deep',
        'voltage_v', 'expected_voltage_v', limits.deep_high_v, 'true'),
    ('voltage_baseline', 'voltage_sag', voltage, 'is_sag_against_baseline',
        'voltage_v', 'expected_voltage_v', 'expected_voltage_v - baseline_deviation_limit_v', 'false'),
    ('voltage_baseline', 'voltage_swell', voltage, 'is_swell_against_baseline',
        'voltage_v', 'expected_voltage_v', 'expected_voltage_v + baseline_deviation_limit_v', 'false'),
    ('temperature_limit', 'overheating', temperature, 'is_above_limit',
        'sustained_temperature_c', 'expected_temperature_c', var('temperature_limit_c'), overheating_critical),
    ('temperature_rise_rate', 'overheating', temperature, 'is_rising_fast',
        'sustained_temperature_c', 'expected_temperature_c',
        'sustained_temperature_c - temperature_rise_c + ' ~ var('temperature_rise_max_c'), overheating_critical),
    ('temperature_baseline', 'overheating', temperature, 'is_above_baseline',
        'sustained_temperature_c', 'expected_temperature_c', 'expected_temperature_c + excess_limit_c',
        overheating_critical),
    ('phase_current_lost', 'phase_loss', ('current_a', 'phase_loss_checks'), 'is_phase_lost',
        'current_a', 'other_phases_min_current_a', var('phase_loss_current_max_a'), 'true'),
    ('voltage_frozen', 'stuck_sensor', ('voltage_v', 'stuck_sensor_checks'), 'is_stuck',
        'voltage_v', 'null', 'null', 'false'),
] -%}
{{ charger_scoped_config(on_schema_change='sync_all_columns') }}
with

voltage_checks as (
    select * from {{ ref('int_readings_voltage_checked') }}
    where {{ is_charger_changed() }}
),

temperature_checks as (
    select * from {{ ref('int_readings_temperature_checked') }}
    where {{ is_charger_changed() }}
),

phase_loss_checks as (
    select * from {{ ref('int_readings_phase_loss_checked') }}
    where {{ is_charger_changed() }}
),

stuck_sensor_checks as (
    select * from {{ ref('int_readings_stuck_sensor_checked') }}
    where {{ is_charger_changed() }}
),

phase_readings as (
    select
        charger_id,
        phase,
        corrected_measured_at
    from {{ ref('int_phase_readings_sequenced') }}
    where {{ is_charger_changed() }}
),

-- One branch per detector and kind (the list above), each keeping only its flagged readings with the
-- value it judged (observed), what the phase's baseline expected, and the limit it applied, in the
-- unit of the measure. The rise rate's limit is the temperature the rise window's lowest value may
-- reach; a lost phase is expected to carry the current of the phases still charging.
flagged_readings as (
    {%- for detector, kind, (measure, checks), flag, observed, expected, limit, critical in branches %}
        select
            '{{ detector }}' as detector,
            '{{ kind }}' as kind,
            '{{ measure }}' as measure,
            charger_id,
            session_id,
            phase,
            reading_seq,
            corrected_measured_at,
            {{ observed }} as observed_value,
            {{ expected }} as expected_value,
            {{ limit }} as limit_value,
            {{ critical }} as is_critical
        from {{ checks }}
        where {{ flag }}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

-- Consecutive flagged readings of one detector on one charger phase form an episode; an unflagged
-- reading between them, or a gap longer than max_integration_gap_s (lost telemetry), ends it.
episodes_started as (
    select
        *,
        coalesce(
            reading_seq - lag(reading_seq) over by_detector_phase > 1
            or {{ seconds_between('lag(corrected_measured_at) over by_detector_phase', 'corrected_measured_at') }}
            > {{ var('max_integration_gap_s') }},
            true
        ) as starts_episode
    from flagged_readings
    window by_detector_phase as (partition by detector, kind, charger_id, phase order by reading_seq asc)
),

episodes_numbered as (
    select
        *,
        sum(cast(starts_episode as int)) over (
            partition by detector, kind, charger_id, phase
            order by reading_seq asc
            rows between unbounded preceding and current row
        ) as episode_seq
    from episodes_started
),

-- The evidence of an episode is taken at its most extreme reading: the lowest for a sag and a lost
-- phase, the highest otherwise (ties: the earliest reading).
episodes as (
    select
        detector,
        kind,
        measure,
        charger_id,
        phase,
        min(session_id) as session_id,
        min(corrected_measured_at) as started_at,
        max(corrected_measured_at) as ended_at,
        count(*) as reading_count,
        case
            when kind in ('voltage_sag', 'phase_loss') then min(observed_value) else max(observed_value)
        end as extreme_value,
        case
            when kind in ('voltage_sag', 'phase_loss')
                then min_by(expected_value, {{ list_value(['observed_value', 'reading_seq']) }})
            else max_by(expected_value, {{ list_value(['observed_value', '-reading_seq']) }})
        end as expected_value,
        case
            when kind in ('voltage_sag', 'phase_loss')
                then min_by(limit_value, {{ list_value(['observed_value', 'reading_seq']) }})
            else max_by(limit_value, {{ list_value(['observed_value', '-reading_seq']) }})
        end as limit_value,
        bool_or(is_critical) as is_critical
    from episodes_numbered
    group by detector, kind, measure, charger_id, phase, episode_seq
    having count(*) >= {{ var('anomaly_min_readings') }}
),

-- An episode that reaches the last reading of its charger phase may go on in the next batch.
last_readings as (
    select
        charger_id,
        phase,
        max(corrected_measured_at) as last_measured_at
    from phase_readings
    group by charger_id, phase
),

final as (
    select
        episodes.*,
        episodes.ended_at = last_readings.last_measured_at as is_open
    from episodes
    inner join last_readings
        on
            episodes.charger_id = last_readings.charger_id
            and episodes.phase = last_readings.phase
)

select * from final
