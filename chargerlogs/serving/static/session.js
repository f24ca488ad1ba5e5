"use strict";
// The page of one charging session: tiles, the profile chart, its anomalies, the big changes.

const sessionId = window.location.pathname.split("/").pop();
let pollTimer = null;

function tile(key, label, value, detail) {
  const element = document.createElement("div");
  element.className = "tile";
  element.dataset.tile = key;
  const name = document.createElement("span");
  name.className = "tile-label";
  name.textContent = label;
  const number = document.createElement("span");
  number.className = "tile-value";
  if (value instanceof Node) {
    number.append(value);
  } else {
    number.textContent = value;
  }
  element.append(name, number);
  if (detail) {
    const note = document.createElement("span");
    note.className = "tile-detail";
    note.textContent = detail;
    element.append(note);
  }
  return element;
}

function renderTiles(session) {
  const zone = session.time_zone;
  document.getElementById("tiles").replaceChildren(
    tile("start", "Start", portal.localMinute(session.corrected_started_local), zone),
    tile("end", "End", session.is_in_progress ? "in progress" : portal.localMinute(session.corrected_ended_local), zone),
    tile("session_time", "Session time", portal.duration(session.session_duration_s), "plugged in"),
    tile("active_charging", "Active charging", portal.duration(session.active_charging_s), "power above threshold"),
    tile("energy_reported", "Energy reported", `${portal.kwh(session.reported_energy_wh)} kWh`, "by the charger"),
    tile("energy_telemetry", "Energy (measured and estimated)", `${portal.kwh(session.telemetry_energy_wh)} kWh`,
      session.energy_ratio === null ? "nothing reported to compare" : `${portal.fixed(session.energy_ratio * 100, 1)} % of reported`),
    tile("energy_measured", "Energy measured", `${portal.kwh(session.measured_energy_wh)} kWh`, "integrated from telemetry"),
    tile("energy_estimated", "Energy estimated", `${portal.kwh(session.estimated_gap_energy_wh)} kWh`,
      session.estimated_gap_count === 0
        ? (session.estimated_gap_energy_wh > 0 ? "missing values carried" : "no telemetry gap bridged")
        : `across ${session.estimated_gap_count} telemetry gap${session.estimated_gap_count === 1 ? "" : "s"}`),
    tile("cost", "Cost", `${portal.fixed(session.total_cost_eur, 2)} EUR`,
      session.is_default_price ? "default price" : "price set by the charger's admin"),
    tile("unit_price", "Unit price", `${portal.fixed(session.unit_price_eur_per_kwh, 3)} EUR/kWh`),
    tile("peak_power", "Peak power", `${portal.kw(session.peak_power_w)} kW`),
    tile("avg_power", "Average power", `${portal.kw(session.avg_charging_power_w)} kW`, "while charging"),
    tile("phases", "Phases used", session.phases_used === null ? "–" : String(session.phases_used)),
    tile("quality", "Data quality", portal.badges(session), `${session.reading_count} readings`)
  );
}

function renderChanges(changes, session) {
  const start = Date.parse(session.corrected_started_at);
  const clock = new Intl.DateTimeFormat("en-GB", {
    timeZone: session.time_zone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
  const threshold = session.big_change_threshold_pct;
  document.getElementById("changes-summary").textContent =
    `Big changes: ${changes.length}` + (threshold === null ? "" : ` (more than ${threshold} % from the previous reading)`);
  document.querySelector("#big-changes tbody").replaceChildren(
    ...changes.map((change) =>
      portal.row([
        clock.format(new Date(start + change.elapsed_s * 1000)),
        change.measure,
        change.phase,
        portal.fixed(change.previous_value, 2),
        portal.fixed(change.new_value, 2),
        change.change_pct === null ? "from 0" : `${portal.fixed(change.change_pct, 1)} %`,
      ])
    )
  );
}

function renderAnomalies(anomalies, session) {
  const clock = new Intl.DateTimeFormat("en-GB", {
    timeZone: session.time_zone, day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
    second: "2-digit", hourCycle: "h23",
  });
  document.getElementById("anomalies-summary").textContent = `Anomalies: ${anomalies.length}`;
  document.getElementById("anomalies-none").hidden = anomalies.length > 0;
  document.getElementById("anomalies").hidden = anomalies.length === 0;
  document.querySelector("#anomalies tbody").replaceChildren(
    ...anomalies.map((anomaly) => {
      const row = portal.row([
        clock.format(new Date(Date.parse(anomaly.started_at))),
        anomaly.is_open ? "going on" : clock.format(new Date(Date.parse(anomaly.ended_at))),
        profileChart.anomalyLabel(anomaly),
        anomaly.severity,
        profileChart.anomalyEvidence(anomaly),
        anomaly.detectors,
      ]);
      row.dataset.anomalyId = anomaly.anomaly_id;
      row.children[3].className = `severity ${anomaly.severity}`;
      return row;
    })
  );
}

async function load() {
  let data;
  try {
    data = await portal.getJson(`/api/sessions/${encodeURIComponent(sessionId)}`);
  } catch (error) {
    if (error.status === 401 || error.status === 403) {
      portal.signOut();
      return;
    }
    document.getElementById("session").hidden = true;
    portal.showError(document.getElementById("page-error"),
      error.status === 404 ? "Session not found." : error.message);
    document.body.dataset.ready = "error";
    return;
  }
  const session = data.session;
  document.getElementById("title").textContent = `Session ${session.session_id} · charger ${session.charger_id}`;
  document.getElementById("in-progress").hidden = !session.is_in_progress;
  renderTiles(session);
  renderChanges(data.big_changes, session);
  renderAnomalies(data.anomalies, session);
  document.getElementById("session").hidden = false;
  const drawn = profileChart.draw(document.getElementById("chart"), document.getElementById("legend"), {
    profile: data.profile,
    bigChanges: data.big_changes,
    anomalies: data.anomalies,
    startedAt: session.corrected_started_at,
    durationS: session.session_duration_s,
    timeZone: session.time_zone,
  });
  document.getElementById("chart-note").textContent = drawn.readings
    ? "Lines break where telemetry has a gap; energy estimated across a gap is dashed over it and " +
      "hatched under the energy line; dots mark big changes; shaded bands mark anomalies on the " +
      "panel of their measure, the whole power panel for an energy mismatch (hover for details)."
    : "No telemetry was received for this session.";
  document.body.dataset.ready = "true";
  if (session.poll_after_s) {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(load, session.poll_after_s * 1000);
  }
}

if (!portal.token()) {
  window.location.assign("/");
} else {
  document.getElementById("download-profile").addEventListener("click", () =>
    portal.download(`/api/sessions/${encodeURIComponent(sessionId)}/profile.csv`, `charging_profile_${sessionId}.csv`)
  );
  load();
}
