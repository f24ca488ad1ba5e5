{#- One row per session reading kept in the compressed profile: first, last, and every big-change reading. -#}
{{ session_scoped_config() }}
with

profiles as (
    select * from {{ ref('fct_charging_profiles') }}
    where {{ is_session_refreshed() }}
),

big_changes as (
    select * from {{ ref('rpt_big_changes') }}
    where {{ is_session_refreshed() }}
),

changed_readings as (
    select
        session_id,
        reading_seq,
        count(*) as big_change_count,
        {{ string_agg_ordered("measure || ' ' || phase", ', ', 'measure, phase') }} as changed_series
    from big_changes
    group by session_id, reading_seq
),

profiles_marked as (
    select
        profiles.*,
        profiles.reading_seq = 1 as is_first_reading,
        profiles.reading_seq = max(profiles.reading_seq) over (partition by profiles.session_id) as is_last_reading,
        coalesce(changed_readings.big_change_count, 0) as big_change_count,
        changed_readings.changed_series
    from profiles
    left join changed_readings
        on
            profiles.session_id = changed_readings.session_id
            and profiles.reading_seq = changed_readings.reading_seq
),

final as (
    select
        session_id,
        reading_seq,
        reading_id,
        charger_id,
        corrected_measured_at,
        measured_at,
        elapsed_s,
        {%- for phase in [1, 2, 3] %}
            current_l{{ phase }}_a,
            voltage_l{{ phase }}_v,
            temperature_l{{ phase }}_c,
        {%- endfor %}
        power_w,
        accumulated_energy_wh,
        accumulated_estimated_energy_wh,
        is_first_reading,
        is_last_reading,
        big_change_count,
        changed_series
    from profiles_marked
    where is_first_reading or is_last_reading or big_change_count > 0
)

select * from final
