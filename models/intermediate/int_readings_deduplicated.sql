{#- One row per distinct reading kept after quarantine and de-duplication. -#}
{#- A view: a filter of int_readings_classified, which holds the parsed rows. -#}
{{ config(materialized='view') }}
with

classified_readings as (
    select * from {{ ref('int_readings_classified') }}
),

final as (
    select
        reading_id,
        charger_id,
        line_layout,
        phase_count,
        measured_epoch_s,
        measured_at,
        received_epoch_s,
        current_l1_a,
        voltage_l1_v,
        temperature_l1_c,
        current_l2_a,
        voltage_l2_v,
        temperature_l2_c,
        current_l3_a,
        voltage_l3_v,
        temperature_l3_c,
        has_missing_measurement,
        is_implausible,
        source_file
    from classified_readings
    where reason_code is null
)

select * from final
