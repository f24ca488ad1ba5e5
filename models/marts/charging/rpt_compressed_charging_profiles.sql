{#- One row per session sample kept in the compressed profile: first, last, and every big-change sample. -#}
with

profiles as (
    select * from {{ ref('fct_charging_profiles') }}
),

big_changes as (
    select * from {{ ref('rpt_big_changes') }}
),

changed_samples as (
    select
        session_id,
        sample_seq,
        count(*) as big_change_count,
        string_agg(measure || ' ' || phase, ', ' order by measure, phase) as changed_series
    from big_changes
    group by session_id, sample_seq
),

profiles_marked as (
    select
        profiles.*,
        profiles.sample_seq = 1 as is_first_sample,
        profiles.sample_seq = max(profiles.sample_seq) over (partition by profiles.session_id) as is_last_sample,
        coalesce(changed_samples.big_change_count, 0) as big_change_count,
        changed_samples.changed_series
    from profiles
    left join changed_samples
        on
            profiles.session_id = changed_samples.session_id
            and profiles.sample_seq = changed_samples.sample_seq
),

final as (
    select
        cast(session_id as bigint) as session_id,
        cast(sample_seq as bigint) as sample_seq,
        cast(event_id as bigint) as event_id,
        cast(charger_id as bigint) as charger_id,
        cast(measured_at as timestamp) as measured_at,
        cast(elapsed_s as bigint) as elapsed_s,
        {%- for phase in [1, 2, 3] %}
            cast(current_l{{ phase }}_a as double) as current_l{{ phase }}_a,
            cast(voltage_l{{ phase }}_v as double) as voltage_l{{ phase }}_v,
            cast(temperature_l{{ phase }}_c as double) as temperature_l{{ phase }}_c,
        {%- endfor %}
        cast(power_w as double) as power_w,
        cast(accumulated_energy_wh as double) as accumulated_energy_wh,
        cast(is_first_sample as boolean) as is_first_sample,
        cast(is_last_sample as boolean) as is_last_sample,
        cast(big_change_count as bigint) as big_change_count,
        cast(changed_series as varchar) as changed_series
    from profiles_marked
    where is_first_sample or is_last_sample or big_change_count > 0
)

select * from final
