{#- One row per anomaly: the detector episodes of one kind on one charger phase merged, and the sessions
    whose reported energy disagrees with their telemetry. -#}
{{ charger_scoped_config(on_schema_change='append_new_columns') }}
with

episodes as (
    select * from {{ ref('int_anomaly_episodes_detected') }}
    where {{ is_charger_changed() }}
),

-- The energy rule lives in the briefing (reported against measured plus estimated energy); it is read,
-- not computed again.
energy_mismatches as (
    select
        session_id,
        charger_id,
        corrected_started_at,
        corrected_ended_at,
        reported_energy_wh,
        telemetry_energy_wh,
        energy_mismatch_tolerance
    from {{ ref('fct_session_briefings') }}
    where
        {{ is_charger_changed() }}
        and has_energy_mismatch
),

-- Episodes of one kind on one charger phase that overlap or lie within anomaly_merge_gap_s of each
-- other, whichever detectors found them, are one anomaly.
anomalies_started as (
    select
        *,
        coalesce(
            started_at > max(ended_at) over (
                partition by charger_id, kind, phase
                order by started_at asc, ended_at asc, detector asc
                rows between unbounded preceding and 1 preceding
            ) + interval {{ var('anomaly_merge_gap_s') }} second,
            true
        ) as starts_anomaly
    from episodes
),

anomalies_numbered as (
    select
        *,
        sum(cast(starts_anomaly as int)) over (
            partition by charger_id, kind, phase
            order by started_at asc, ended_at asc, detector asc
            rows between unbounded preceding and current row
        ) as anomaly_seq
    from anomalies_started
),

-- The worst episode of an anomaly (the lowest value for a sag or a lost phase, the highest otherwise)
-- gives its evidence; ties go to the earliest episode, then the detector's name.
episodes_ranked as (
    select
        *,
        row_number() over (
            partition by charger_id, kind, phase, anomaly_seq
            order by
                case when kind in ('voltage_sag', 'phase_loss') then extreme_value else -extreme_value end asc,
                started_at asc,
                detector asc
        ) as severity_rank
    from anomalies_numbered
),

merged as (
    select
        charger_id,
        kind,
        phase,
        min(session_id) as session_id,
        min(started_at) as started_at,
        max(ended_at) as ended_at,
        {{ string_agg_ordered('detector', ',', 'detector', distinct=true) }} as detectors,
        any_value(measure) as measure,
        any_value(extreme_value) filter (where severity_rank = 1) as extreme_value,
        any_value(expected_value) filter (where severity_rank = 1) as expected_value,
        any_value(limit_value) filter (where severity_rank = 1) as limit_value,
        bool_or(is_critical) as is_critical,
        bool_or(is_open) as is_open
    from episodes_ranked
    group by charger_id, kind, phase, anomaly_seq
),

session_anomalies as (
    select
        charger_id,
        'energy_mismatch' as kind,
        null as phase,
        session_id,
        corrected_started_at as started_at,
        corrected_ended_at as ended_at,
        'energy_reconciliation' as detectors,
        'energy_wh' as measure,
        telemetry_energy_wh as extreme_value,
        reported_energy_wh as expected_value,
        -- the edge of the tolerated band on the telemetry's side
        case
            when telemetry_energy_wh > reported_energy_wh then reported_energy_wh * (1 + energy_mismatch_tolerance)
            else reported_energy_wh * (1 - energy_mismatch_tolerance)
        end as limit_value,
        false as is_critical,
        false as is_open
    from energy_mismatches
),

unioned as (
    select * from merged
    {{ union_all_by_name() }}
    select * from session_anomalies
),

final as (
    select
        -- a session's energy mismatch is the session's: two sessions of a charger may start in the
        -- same second (concat_ws skips the null session of the other kinds)
        md5(concat_ws(
            '|',
            charger_id,
            kind,
            coalesce(phase, '-'),
            {{ timestamp_to_epoch_us('started_at') }},
            case when kind = 'energy_mismatch' then session_id end
        )) as anomaly_id,
        charger_id,
        session_id,
        phase,
        kind,
        case when is_critical then 'critical' else 'warning' end as severity,
        started_at,
        ended_at,
        {{ seconds_between('started_at', 'ended_at') }} as duration_s,
        detectors,
        measure,
        extreme_value,
        expected_value,
        limit_value,
        is_open,
        '{{ var("anomaly_detector_version") }}' as detector_version
    from unioned
)

select * from final
