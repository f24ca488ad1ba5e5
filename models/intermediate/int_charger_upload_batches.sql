{#- One row per charger and upload batch: the kept readings of one charger that the server received at
    one instant, with their count, measured time range and skew (received minus the latest measured
    time). The clock periods are found from these batches, not from every reading of the history. -#}
{#- Incremental: a build rewrites the batches holding a line (re)classified since its last build (new
    lines, and older lines whose duplicate ranking a new line changed); a batch left without a kept
    reading is deleted. -#}
{#- the changed batches are read from the classified lines: declare them as a parent (a unit test gives
    its model's inputs only, and builds it in full) -#}
{%- if model.resource_type != 'unit_test' -%}
    {%- set classified_readings = ref('int_readings_classified') -%}
{%- endif %}
{{ config(
    materialized=incremental_materialization(),
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    pre_hook=["{{ delete_rebuilt_rows('(charger_id, received_epoch_s) in (' ~ changed_upload_batches() ~ ')') }}"],
    post_hook=["{{ record_watermark() }}"],
) }}
with

readings as (
    select
        deduplicated.charger_id,
        deduplicated.measured_epoch_s,
        deduplicated.received_epoch_s
    from {{ ref('int_readings_deduplicated') }} as deduplicated
    {%- if is_incremental() %}
        inner join ({{ changed_upload_batches() }}) as changed
            on
                deduplicated.charger_id = changed.charger_id
                and deduplicated.received_epoch_s = changed.received_epoch_s
    {%- endif %}
    where deduplicated.received_epoch_s is not null
),

final as (
    select
        charger_id,
        received_epoch_s,
        count(*) as reading_count,
        min(measured_epoch_s) as first_measured_epoch_s,
        max(measured_epoch_s) as last_measured_epoch_s,
        received_epoch_s - max(measured_epoch_s) as batch_skew_s
    from readings
    group by charger_id, received_epoch_s
)

select * from final
