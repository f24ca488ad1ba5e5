"use strict";
// Shared by the pages: the sign-in token, API calls, number and time formats, downloads.

const TOKEN_KEY = "charging-dashboard-token";

const portal = {
  token() {
    return window.sessionStorage.getItem(TOKEN_KEY);
  },
  setToken(token) {
    window.sessionStorage.setItem(TOKEN_KEY, token);
  },
  signOut() {
    window.sessionStorage.removeItem(TOKEN_KEY);
    window.location.assign("/");
  },

  // GET an API path with the token; resolves to the Response, or throws an Error whose
  // .status is the HTTP status and whose message is the API's detail.
  async get(path) {
    const response = await fetch(path, {
      headers: { Authorization: `Bearer ${portal.token() || ""}` },
      cache: "no-store",
    });
    if (!response.ok) {
      let detail = response.statusText;
      try {
        detail = (await response.json()).detail || detail;
      } catch (ignored) {
        // not JSON: keep the status text
      }
      const error = new Error(detail);
      error.status = response.status;
      throw error;
    }
    return response;
  },
  async getJson(path) {
    return (await portal.get(path)).json();
  },

  // Fetch a file with the token and hand it to the browser as a download.
  async download(path, filename) {
    const blob = await (await portal.get(path)).blob();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = filename;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  },

  // Numbers: fixed decimals, "–" for a missing value.
  fixed(value, decimals) {
    return value === null || value === undefined ? "–" : Number(value).toFixed(decimals);
  },
  kwh(wh) {
    return wh === null || wh === undefined ? "–" : (wh / 1000).toFixed(2);
  },
  kw(w) {
    return w === null || w === undefined ? "–" : (w / 1000).toFixed(2);
  },
  // Seconds as "3 h 05 min" (whole minutes, rounded down).
  duration(seconds) {
    if (seconds === null || seconds === undefined) {
      return "–";
    }
    const hours = Math.floor(seconds / 3600);
    const minutes = Math.floor((seconds % 3600) / 60);
    return `${hours} h ${String(minutes).padStart(2, "0")} min`;
  },
  // An ISO time with its offset ("2021-03-04T13:34:56+01:00") as "2021-03-04 13:34" (its own
  // wall-clock time: the API has already put it in the user's zone).
  localMinute(iso) {
    return iso.slice(0, 10) + " " + iso.slice(11, 16);
  },

  // A clock offset in seconds as its size in the largest whole unit: "7,166 days", "3 h", "40 s".
  offset(seconds) {
    const size = Math.abs(seconds);
    const [unit, name] = [[86400, "day"], [3600, "h"], [60, "min"], [1, "s"]].find(([length]) => size >= length) || [1, "s"];
    const count = Math.round(size / unit);
    const plural = name === "day" && count !== 1 ? "s" : "";
    return `${count.toLocaleString("en-GB")} ${name}${plural}`;
  },

  // The data-quality badges of a session: [label, kind, explanation] for every flag that is set.
  // "warn" for a fault in the data; "info" for one the marts have accounted for (a corrected
  // clock, a shortfall that lost telemetry explains).
  qualityFlags(session) {
    const flags = [];
    if (session.has_no_telemetry) {
      flags.push(["no telemetry", "warn", "No reading was received for this session."]);
    }
    if (session.has_sparse_telemetry) {
      flags.push(["sparse telemetry", "warn",
        `${session.gap_count} gaps in the telemetry; the longest stretch without a reading is ` +
        `${portal.duration(session.largest_gap_s)}.`]);
    }
    if (session.is_shortfall_from_lost_telemetry) {
      flags.push(["lost-telemetry shortfall", "info",
        "The measured energy alone falls short of the reported energy; with the energy estimated " +
        "across telemetry gaps it agrees."]);
    }
    if (session.has_energy_mismatch) {
      flags.push(["energy mismatch", "warn",
        session.energy_ratio === null
          ? "Energy was measured, but the charger reported none."
          : `Measured and estimated energy is ${portal.fixed(session.energy_ratio * 100, 1)} % of ` +
            "the reported energy: more than lost telemetry explains."]);
    }
    if (session.is_overlapping) {
      flags.push(["overlapping session", "warn", "The session overlaps another session of the same charger."]);
    }
    if (session.is_clock_corrected) {
      flags.push([`charger clock corrected by ${portal.offset(session.clock_offset_s)}`, "info",
        `The charger's clock was ${session.clock_offset_s < 0 ? "behind" : "ahead"} by ` +
        `${Math.abs(session.clock_offset_s).toLocaleString("en-GB")} s; the times shown are true times.`]);
    }
    if (session.missing_measurement_reading_count > 0) {
      flags.push(["missing measurements", "warn",
        `${session.missing_measurement_reading_count} readings lack a measurement on a phase.`]);
    }
    return flags;
  },
  badges(session) {
    const container = document.createElement("span");
    container.className = "badges";
    const flags = portal.qualityFlags(session);
    for (const [label, kind, explanation] of flags.length ? flags : [["clean", "ok", "No data-quality flag."]]) {
      const badge = document.createElement("span");
      badge.className = `badge ${kind}`;
      badge.textContent = label;
      badge.title = explanation;
      container.append(badge);
    }
    return container;
  },

  // A table row of text cells (no HTML is ever parsed from data).
  row(cells) {
    const tr = document.createElement("tr");
    for (const cell of cells) {
      const td = document.createElement("td");
      if (cell instanceof Node) {
        td.append(cell);
      } else {
        td.textContent = cell;
      }
      tr.append(td);
    }
    return tr;
  },
  showError(element, message) {
    element.textContent = message;
    element.hidden = false;
  },
};
