{#- One row per distinct status measurement kept after quarantine and de-duplication. -#}
{#- A view: a filter of int_status_events_classified, read once by int_status_events_sessionized. -#}
{{ config(materialized='view') }}
with

classified_events as (
    select * from {{ ref('int_status_events_classified') }}
),

final as (
    select
        event_id,
        charger_id,
        status_layout,
        phase_count,
        charger_epoch_s,
        charger_at,
        server_epoch_s,
        server_at,
        current_l1_a,
        voltage_l1_v,
        temperature_l1_c,
        current_l2_a,
        voltage_l2_v,
        temperature_l2_c,
        current_l3_a,
        voltage_l3_v,
        temperature_l3_c,
        clock_skew_s,
        is_late_arrival,
        has_clock_error,
        is_missing_server_timestamp,
        has_missing_measurement,
        is_current_implausible,
        is_voltage_implausible,
        is_temperature_implausible,
        has_unexpected_keys,
        source_file,
        line_number
    from classified_events
    where disposition = 'clean'
)

select * from final
