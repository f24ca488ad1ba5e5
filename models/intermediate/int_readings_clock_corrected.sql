{#- One row per kept reading, with its charger's clock offset and its measured time corrected to true time. -#}
{#- A view: read by int_session_readings_attributed and int_phase_readings_sequenced. -#}
{{ config(materialized='view') }}
with

readings as (
    select * from {{ ref('int_readings_deduplicated') }}
),

clock_periods as (
    select
        charger_id,
        first_received_epoch_s,
        clock_offset_s
    from {{ ref('int_charger_clock_periods') }}
),

-- A reading's clock period is the one its upload batch belongs to: periods are runs of batches in
-- received order, so the last period of its charger that started receiving at or before it. A
-- reading without a received time cannot be placed and keeps its charger's clock (offset 0).
periods_matched as (
    select
        readings.*,
        coalesce(clock_periods.clock_offset_s, 0) as clock_offset_s
    from readings
    asof left join clock_periods
        on
            readings.charger_id = clock_periods.charger_id
            and readings.received_epoch_s >= clock_periods.first_received_epoch_s
),

final as (
    select
        * exclude (clock_offset_s),
        clock_offset_s,
        clock_offset_s <> 0 as is_clock_corrected,
        {{ epoch_to_timestamp('measured_epoch_s - clock_offset_s') }} as corrected_measured_at,
        -- late against the corrected time: a reset clock is no late upload
        coalesce(
            received_epoch_s - (measured_epoch_s - clock_offset_s) > {{ var('late_arrival_threshold_s') }}, false
        ) as is_late_arrival
    from periods_matched
)

select * from final  -- noqa: AM04
