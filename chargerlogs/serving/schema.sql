-- The serving store of the per-session dashboard (schema portal), applied by its owner role.
-- Idempotent: every statement can run again on an existing store.
--
-- Row-level security: every table holding a user's rows has a policy keyed on
-- portal.requesting_user_id(), the setting app.user_id that the app sets for the length of one
-- transaction per request. Without it the function returns null and no row matches. The app signs
-- in as a role that owns nothing and may only read, so the policies apply to it; the owner (the
-- publisher) is not subject to them.

create schema if not exists portal;

create or replace function portal.requesting_user_id() returns bigint
language sql stable
as $$ select nullif(current_setting('app.user_id', true), '')::bigint $$;

create table if not exists portal.users (
    user_id bigint primary key,
    display_name text not null,
    -- IANA zone in which the dashboard shows this user's times
    time_zone text not null default 'Europe/Madrid',
    -- sha256 (hex) of the user's sign-in token; the token itself is never stored
    token_sha256 text not null unique check (token_sha256 ~ '^[0-9a-f]{64}$'),
    is_active boolean not null default true
);

create table if not exists portal.chargers (
    charger_id bigint primary key,
    session_count bigint not null,
    avg_session_duration_s double precision,
    median_session_duration_s double precision,
    first_session_started_at timestamptz,
    last_session_ended_at timestamptz
);

create table if not exists portal.sessions (
    session_id bigint primary key,
    user_id bigint not null references portal.users (user_id),
    charger_id bigint not null references portal.chargers (charger_id),
    -- true times; the charger's clock was off by clock_offset_s (charger minus true time)
    corrected_started_at timestamptz not null,
    corrected_ended_at timestamptz not null,
    clock_offset_s bigint not null,
    is_clock_corrected boolean not null,
    session_duration_s bigint not null,
    active_charging_s bigint not null,
    reported_energy_wh double precision,
    measured_energy_wh double precision not null,
    estimated_gap_energy_wh double precision not null,
    telemetry_energy_wh double precision not null,
    energy_ratio double precision,
    total_cost_eur double precision,
    unit_price_eur_per_kwh double precision,
    is_default_price boolean,
    peak_power_w double precision,
    avg_charging_power_w double precision,
    phases_used integer,
    reading_count bigint not null,
    largest_gap_s bigint not null,
    gap_count bigint not null,
    estimated_gap_count bigint not null,
    has_no_telemetry boolean not null,
    has_sparse_telemetry boolean not null,
    is_shortfall_from_lost_telemetry boolean not null,
    has_energy_mismatch boolean not null,
    is_overlapping boolean not null,
    missing_measurement_reading_count bigint not null,
    -- true while the session is still charging (set by a live feed; false for finished sessions)
    is_in_progress boolean not null default false,
    -- sha256 of the session's briefing, profile and big changes as published
    content_sha256 text not null,
    unique (session_id, user_id)
);

create index if not exists sessions_user_started on portal.sessions (
    user_id, corrected_started_at
);

-- One row per session: the full profile as one columnar JSON document (arrays of equal length),
-- which the session page reads as it is.
create table if not exists portal.session_profiles (
    session_id bigint primary key,
    user_id bigint not null,
    reading_count integer not null,
    profile json not null,
    foreign key (session_id, user_id) references portal.sessions (session_id, user_id)
    on delete cascade on update cascade
);

create table if not exists portal.big_changes (
    session_id bigint not null,
    reading_seq bigint not null,
    measure text not null,
    phase text not null,
    user_id bigint not null,
    corrected_measured_at timestamptz not null,
    elapsed_s bigint not null,
    previous_value double precision not null,
    new_value double precision not null,
    change_pct double precision,
    direction text not null,
    threshold_pct double precision not null,
    primary key (session_id, reading_seq, measure, phase),
    foreign key (session_id, user_id) references portal.sessions (session_id, user_id)
    on delete cascade on update cascade
);

-- The anomalies of fct_anomalies found in a session's readings (for a session in progress: on its
-- charger during the charge), drawn on the session's chart: kind, severity, phase, span in true
-- time and the evidence (the worst value against the expected one and the limit applied).
create table if not exists portal.session_anomalies (
    session_id bigint not null,
    anomaly_id text not null,
    user_id bigint not null,
    kind text not null,
    severity text not null,
    -- L1, L2 or L3; null for an energy mismatch, which is the session's
    phase text,
    started_at timestamptz not null,
    ended_at timestamptz not null,
    duration_s bigint not null,
    detectors text not null,
    measure text not null,
    extreme_value double precision not null,
    expected_value double precision,
    limit_value double precision,
    is_open boolean not null,
    primary key (session_id, anomaly_id),
    foreign key (session_id, user_id) references portal.sessions (session_id, user_id)
    on delete cascade on update cascade
);

-- Token look-up for sign-in: the only way the app reads portal.users, one matching row at most.
create or replace function portal.authenticate(presented_token_sha256 text)
returns table (user_id bigint, display_name text, time_zone text, is_active boolean)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
    select users.user_id, users.display_name, users.time_zone, users.is_active
    from portal.users as users
    where users.token_sha256 = presented_token_sha256
$$;

revoke all on function portal.authenticate(text) from public;

alter table portal.users enable row level security;
alter table portal.chargers enable row level security;
alter table portal.sessions enable row level security;
alter table portal.session_profiles enable row level security;
alter table portal.big_changes enable row level security;
alter table portal.session_anomalies enable row level security;

drop policy if exists own_user on portal.users;
create policy own_user on portal.users for select
using (user_id = portal.requesting_user_id());

drop policy if exists own_sessions on portal.sessions;
create policy own_sessions on portal.sessions for select
using (user_id = portal.requesting_user_id());

drop policy if exists own_profiles on portal.session_profiles;
create policy own_profiles on portal.session_profiles for select
using (user_id = portal.requesting_user_id());

drop policy if exists own_big_changes on portal.big_changes;
create policy own_big_changes on portal.big_changes for select
using (user_id = portal.requesting_user_id());

drop policy if exists own_anomalies on portal.session_anomalies;
create policy own_anomalies on portal.session_anomalies for select
using (user_id = portal.requesting_user_id());

-- a charger is visible to the users who have a session on it
drop policy if exists chargers_used on portal.chargers;
create policy chargers_used on portal.chargers for select
using (
    exists (
        select 1
        from portal.sessions
        where
            sessions.charger_id = chargers.charger_id
            and sessions.user_id = portal.requesting_user_id()
    )
);
