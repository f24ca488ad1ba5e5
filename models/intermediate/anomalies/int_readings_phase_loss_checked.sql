{#- One row per reading and phase of a three-phase charger: whether the phase lost its current while the
    two others charge. A view: read once, by int_anomaly_episodes_detected. -#}
{{ config(materialized='view') }}
with

phase_readings as (
    select
        reading_id,
        charger_id,
        session_id,
        phase,
        reading_seq,
        corrected_measured_at,
        current_a,
        voltage_v,
        other_phases_min_current_a
    from {{ ref('int_phase_readings_sequenced') }}
    where other_phases_min_current_a is not null
),

-- Whether the phase carried current at some time of the session: with the two others charging, the
-- session charged on three phases (a car charging on one or two phases leaves the rest at 0 A).
session_phase_peaks as (
    select
        *,
        max(current_a) over (partition by session_id, phase) as session_peak_current_a
    from phase_readings
),

final as (
    select
        reading_id,
        charger_id,
        session_id,
        phase,
        reading_seq,
        corrected_measured_at,
        current_a,
        other_phases_min_current_a,
        coalesce(
            current_a <= {{ var('phase_loss_current_max_a') }}
            and other_phases_min_current_a >= {{ var('charging_current_min_a') }}
            and (
                -- a session that charged on three phases (only known inside a session) ...
                (session_id is not null and session_peak_current_a > {{ var('phase_in_use_current_a') }})
                -- ... or a phase whose supply is gone (EN 50160 interruption) while the others charge
                or voltage_v < {{ voltage_limits().interruption_v }}
            ),
            false
        ) as is_phase_lost
    from session_phase_peaks
)

select * from final
