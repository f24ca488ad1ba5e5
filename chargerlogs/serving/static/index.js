"use strict";
// The home page: sign-in, the session list with filters and monthly totals, the chargers.

const signInForm = document.getElementById("sign-in");
const dashboard = document.getElementById("dashboard");
const filters = document.getElementById("filters");

function filterQuery() {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(filters)) {
    if (value) {
      params.set(name, value);
    }
  }
  const query = params.toString();
  return query ? `?${query}` : "";
}

async function loadSessions() {
  const listError = document.getElementById("list-error");
  listError.hidden = true;
  let data;
  try {
    data = await portal.getJson(`/api/sessions${filterQuery()}`);
  } catch (error) {
    portal.showError(listError, error.message);
    return;
  }
  const totals = document.querySelector("#monthly-totals tbody");
  totals.replaceChildren(
    ...data.monthly_totals.map((month) =>
      portal.row([month.month, month.session_count, portal.kwh(month.energy_wh), portal.fixed(month.cost_eur, 2)])
    )
  );
  const sessions = document.querySelector("#sessions tbody");
  sessions.replaceChildren(
    ...data.sessions.map((session) => {
      const link = document.createElement("a");
      link.href = `/sessions/${session.session_id}`;
      link.textContent = portal.localMinute(session.corrected_started_local);
      const tr = portal.row([
        link,
        session.is_in_progress ? "in progress" : portal.localMinute(session.corrected_ended_local),
        portal.duration(session.session_duration_s),
        portal.kwh(session.reported_energy_wh),
        portal.fixed(session.total_cost_eur, 2),
        session.charger_id,
        portal.badges(session),
      ]);
      tr.dataset.sessionId = session.session_id;
      return tr;
    })
  );
}

async function loadChargers() {
  const data = await portal.getJson("/api/chargers");
  const select = document.getElementById("filter-charger");
  for (const charger of data.chargers) {
    const option = document.createElement("option");
    option.value = charger.charger_id;
    option.textContent = charger.charger_id;
    select.append(option);
  }
  document.querySelector("#chargers tbody").replaceChildren(
    ...data.chargers.map((charger) =>
      portal.row([
        charger.charger_id,
        charger.session_count,
        portal.kwh(charger.reported_energy_wh),
        portal.fixed(charger.total_cost_eur, 2),
        portal.localMinute(charger.last_session_ended_local),
        portal.duration(charger.fleet_avg_session_duration_s),
      ])
    )
  );
}

async function showDashboard() {
  const me = await portal.getJson("/api/me");
  document.getElementById("user-name").textContent = me.display_name;
  document.getElementById("user-zone").textContent = `times in ${me.time_zone}`;
  document.getElementById("who").hidden = false;
  signInForm.hidden = true;
  dashboard.hidden = false;
  await Promise.all([loadChargers(), loadSessions()]);
  document.body.dataset.ready = "true";
}

async function start() {
  if (!portal.token()) {
    signInForm.hidden = false;
    return;
  }
  try {
    await showDashboard();
  } catch (error) {
    signInForm.hidden = false;
    if (error.status === 401 || error.status === 403) {
      window.sessionStorage.clear();
      portal.showError(document.getElementById("sign-in-error"), error.message);
    }
  }
}

signInForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  portal.setToken(document.getElementById("token").value.trim());
  await start();
});
filters.addEventListener("submit", (event) => {
  event.preventDefault();
  loadSessions();
});
document.getElementById("download-list").addEventListener("click", () =>
  portal.download(`/api/sessions.csv${filterQuery()}`, "charging_sessions.csv")
);
document.getElementById("sign-out").addEventListener("click", () => portal.signOut());
start();
