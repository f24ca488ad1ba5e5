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

  // The data-quality badges of a session (names of the flags that are set).
  qualityFlags(session) {
    const flags = [
      ["has_no_telemetry", "no telemetry"],
      ["has_sparse_telemetry", "sparse telemetry"],
      ["has_energy_mismatch", "energy mismatch"],
      ["is_overlapping", "overlapping session"],
      ["has_clock_problem", "clock problem"],
      ["has_missing_measurements", "missing measurements"],
    ];
    return flags.filter(([name]) => session[name]).map(([, label]) => label);
  },
  badges(session) {
    const container = document.createElement("span");
    container.className = "badges";
    const flags = portal.qualityFlags(session);
    for (const label of flags.length ? flags : ["clean"]) {
      const badge = document.createElement("span");
      badge.className = flags.length ? "badge warn" : "badge ok";
      badge.textContent = label;
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
