{#- One row per kept reading and phase it measures, in true-time order per charger phase, with what the
    anomaly detectors compare: the charger's load, the other phases' current, a glitch-proof temperature
    and the phase's cold reference temperature. -#}
{%- set phases = [1, 2, 3] -%}
{%- set time_constant_s = var('thermal_time_constant_s') -%}
{{ charger_scoped_config(on_schema_change='sync_all_columns') }}
with

readings as (
    select
        reading_id,
        charger_id,
        {%- for phase in phases %}
            current_l{{ phase }}_a,
            voltage_l{{ phase }}_v,
            temperature_l{{ phase }}_c,
        {%- endfor %}
        corrected_measured_at
    from {{ ref('int_readings_clock_corrected') }}
    where {{ is_charger_changed() }}
),

session_readings as (
    select
        reading_id,
        session_id
    from {{ ref('int_session_readings_integrated') }}
    where {{ is_charger_changed() }}
),

-- The charger's load is its most loaded phase; the fingerprint of all nine values tells whether
-- anything about the reading changed (a stuck sensor freezes one value, not the whole reading).
readings_with_sessions as (
    select
        readings.*,
        session_readings.session_id,
        greatest(readings.current_l1_a, readings.current_l2_a, readings.current_l3_a) as charger_current_a,
        hash(
            {%- for phase in phases %}
                readings.current_l{{ phase }}_a,
                readings.voltage_l{{ phase }}_v,
                readings.temperature_l{{ phase }}_c{% if not loop.last %},{% endif %}
            {%- endfor %}
        ) as values_hash
    from readings
    left join session_readings on readings.reading_id = session_readings.reading_id
),

-- What the charger's load of the last thermal memory window explains, once per reading (it is the
-- same for every phase).
thermal_loads as (
    select
        *,
        -- the load the terminals still feel: every current of the thermal memory decayed by
        -- exp(-age / thermal_time_constant_s), the largest of them (taken as one window max of logarithms)
        exp(
            max(
                ln(greatest(charger_current_a, 0.001))
                + {{ timestamp_to_epoch('corrected_measured_at') }} / {{ time_constant_s }}
            ) over thermal_window
            - {{ timestamp_to_epoch('corrected_measured_at') }} / {{ time_constant_s }}
        ) as thermal_load_a,
        -- a steady load: charging all through the thermal memory, within steady_load_tolerance_share of its
        -- peak, with at least half of the memory's readings present; then the temperature has settled
        coalesce(
            min(charger_current_a) over thermal_window >= {{ var('charging_current_min_a') }}
            and min(charger_current_a) over thermal_window
            >= (1 - {{ var('steady_load_tolerance_share') }}) * max(charger_current_a) over thermal_window
            and count(charger_current_a) over thermal_window
            >= {{ var('thermal_memory_s') / var('nominal_sample_interval_s') / 2 }},
            false
        ) as is_load_steady
    from readings_with_sessions
    window thermal_window as (
        partition by charger_id
        order by corrected_measured_at asc
        range between interval {{ var('thermal_memory_s') }} second preceding and current row
    )
),

-- One branch per phase; a phase with no measurement at all (a single-phase charger's L2 and L3) has
-- no row. The other phases' lower current is known only when both of them are measured.
phase_readings as (
    {%- for phase in phases %}
        {%- set others = phases | reject('equalto', phase) | list %}
        select
            reading_id,
            charger_id,
            session_id,
            'L{{ phase }}' as phase,
            corrected_measured_at,
            current_l{{ phase }}_a as current_a,
            voltage_l{{ phase }}_v as voltage_v,
            temperature_l{{ phase }}_c as temperature_c,
            charger_current_a,
            case
                when current_l{{ others[0] }}_a is not null and current_l{{ others[1] }}_a is not null
                    then least(current_l{{ others[0] }}_a, current_l{{ others[1] }}_a)
            end as other_phases_min_current_a,
            values_hash,
            thermal_load_a,
            is_load_steady
        from thermal_loads
        where coalesce(current_l{{ phase }}_a, voltage_l{{ phase }}_v, temperature_l{{ phase }}_c) is not null
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

-- A glitching sensor flips between two levels on alternate readings: the lowest temperature of a short
-- window is what the phase sustained. Fewer readings than the minimum in the window (lost telemetry)
-- leave it unknown.
windowed as (
    select
        *,
        cast(row_number() over by_charger_phase as bigint) as reading_seq,
        case
            when count(temperature_c) over sustain_window >= {{ var('temperature_sustain_min_readings') }}
                then min(temperature_c) over sustain_window
        end as sustained_temperature_c
    from phase_readings
    window
        by_charger_phase as (partition by charger_id, phase order by corrected_measured_at asc, reading_id asc),
        sustain_window as (
            partition by charger_id, phase
            order by corrected_measured_at asc
            range between interval {{ var('temperature_sustain_window_s') }} second preceding and current row
        )
),

-- The phase's cold reference: the median sustained temperature of its last cold readings (the load the
-- terminals still feel below phase_in_use_current_a: idle, and cooled down since the last charge),
-- which follows the ambient temperature through the day.
cold_references as (
    select
        charger_id,
        phase,
        corrected_measured_at,
        {{ window_median(
            'sustained_temperature_c',
            'partition by charger_id, phase order by corrected_measured_at asc rows between '
            ~ (var('temperature_reference_readings') - 1) ~ ' preceding and current row'
        ) }} as reference_temperature_c
    from windowed
    where
        thermal_load_a < {{ var('phase_in_use_current_a') }}
        and sustained_temperature_c is not null
),

readings_with_references as (
    {{ asof_join(
        'windowed', 'cold_references', keys=[('charger_id', 'charger_id'), ('phase', 'phase')],
        left_value='windowed.corrected_measured_at',
        right_value='cold_references.corrected_measured_at',
        right_columns={'reference_temperature_c': 'reference_temperature_c'},
    ) }}
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
        voltage_v,
        charger_current_a,
        other_phases_min_current_a,
        values_hash,
        sustained_temperature_c,
        reference_temperature_c,
        thermal_load_a,
        is_load_steady
    from readings_with_references
)

select * from final
