"use strict";
// A small SVG chart of one charging profile: four stacked panels on one shared time axis
// (power and accumulated energy; current, voltage and temperature per phase), lines broken at
// telemetry gaps, big changes marked. The energy estimated across telemetry gaps is drawn apart:
// a dashed bridge over each gap it fills and a hatched band, under the accumulated energy, as thick
// as the estimated part of it. Times are true times (the session's corrected start plus each
// reading's elapsed seconds). The session's anomalies are shaded time bands on the panel of their
// measure (the whole power panel for an energy mismatch), coloured by severity, each with a tooltip.
// No library: SVG elements and attributes only, so the page needs no inline style or script (strict
// Content-Security-Policy).

const profileChart = (() => {
  const SVG = "http://www.w3.org/2000/svg";
  const PHASES = ["l1", "l2", "l3"];
  const phaseSeries = (measure, unit) =>
    PHASES.map((phase) => ({
      field: `${measure}_${phase}_${unit}`,
      label: phase.toUpperCase(),
      cls: `s-${phase}`,
      scale: 1,
    }));
  const PANELS = [
    {
      key: "power",
      title: "Power (kW) · energy (kWh, right axis)",
      measure: "power_w",
      series: [{ field: "power_w", label: "Power", cls: "s-power", scale: 0.001 }],
      right: { field: "accumulated_energy_wh", label: "Energy", cls: "s-energy", scale: 0.001 },
    },
    { key: "current", title: "Current (A)", measure: "current_a", series: phaseSeries("current", "a") },
    { key: "voltage", title: "Voltage (V)", measure: "voltage_v", series: phaseSeries("voltage", "v") },
    {
      key: "temperature",
      title: "Temperature (°C)",
      measure: "temperature_c",
      series: phaseSeries("temperature", "c"),
    },
  ];
  const UNITS = { current_a: "A", voltage_v: "V", temperature_c: "°C", power_w: "kW" };
  // the panel an anomaly's band is drawn on, by the measure of its evidence
  const ANOMALY_PANELS = { voltage_v: "voltage", temperature_c: "temperature", current_a: "current", energy_wh: "power" };
  const EVIDENCE_UNITS = { voltage_v: "V", temperature_c: "°C", current_a: "A", energy_wh: "Wh" };
  const ANOMALY_MIN_WIDTH = 3;
  const MARGIN = { left: 56, right: 60, top: 22, bottom: 40 };
  const PANEL_HEIGHT = 140;
  const PANEL_GAP = 30;
  const HATCH_ID = "estimated-energy-hatch";

  function element(name, attributes, parent) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) {
      node.setAttribute(key, value);
    }
    if (parent) {
      parent.append(node);
    }
    return node;
  }

  function text(parent, x, y, content, cls) {
    const node = element("text", { x, y, class: cls }, parent);
    node.textContent = content;
    return node;
  }

  // Round tick values covering [low, high]: about `count` steps of 1, 2 or 5 x 10^n.
  function niceTicks(low, high, count) {
    if (!(high > low)) {
      const pad = Math.abs(low) > 0 ? Math.abs(low) * 0.1 : 1;
      return niceTicks(low - pad, high + pad, count);
    }
    const raw = (high - low) / count;
    const magnitude = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((factor) => factor * magnitude).find((candidate) => candidate >= raw);
    const ticks = [];
    for (let value = Math.floor(low / step) * step; value <= high + step * 1e-9; value += step) {
      ticks.push(Number(value.toFixed(10)));
    }
    if (ticks[ticks.length - 1] < high) {
      ticks.push(Number((ticks[ticks.length - 1] + step).toFixed(10)));
    }
    return ticks;
  }

  function extent(profile, series) {
    let low = Infinity;
    let high = -Infinity;
    for (const { field, scale } of series) {
      for (const value of profile[field] || []) {
        if (value !== null) {
          low = Math.min(low, value * scale);
          high = Math.max(high, value * scale);
        }
      }
    }
    return low <= high ? [low, high] : [0, 1];
  }

  // Path data for one series: a new sub-path after a gap or a missing value.
  function pathData(elapsed, values, gaps, scale, x, y) {
    const parts = [];
    let points = 0;
    let pen = "M";
    for (let i = 0; i < elapsed.length; i += 1) {
      const value = values[i];
      if (value === null || value === undefined) {
        pen = "M";
        continue;
      }
      if (gaps && gaps[i]) {
        pen = "M";
      }
      parts.push(`${pen}${x(elapsed[i]).toFixed(1)},${y(value * scale).toFixed(1)}`);
      pen = "L";
      points += 1;
    }
    return { d: parts.join(""), points };
  }

  // Time ticks every 5 min to 6 h, at round local-clock times, about 8 across the chart.
  function timeTicks(startMs, durationS) {
    const steps = [5, 10, 15, 30, 60, 120, 180, 240, 360].map((minutes) => minutes * 60);
    const step = steps.find((candidate) => durationS / candidate <= 8) || steps[steps.length - 1];
    const first = Math.ceil(startMs / 1000 / step) * step;
    const ticks = [];
    for (let epoch = first; epoch <= startMs / 1000 + durationS; epoch += step) {
      ticks.push(epoch - startMs / 1000);
    }
    return ticks;
  }

  // Path data of the estimated part of the accumulated energy: closed areas between the
  // accumulated energy and the accumulated energy less its estimated part, broken where a gap was
  // not bridged (its energy is unknown). Empty when nothing was estimated.
  function estimatedBand(elapsed, accumulated, estimated, gaps, bridged, x, y) {
    if (!estimated.some((value) => value > 0)) {
      return { d: "", points: 0 };
    }
    const parts = [];
    let run = [];
    const close = () => {
      if (run.length) {
        const upper = run.map((i) => `${x(elapsed[i]).toFixed(1)},${y(accumulated[i]).toFixed(1)}`);
        const lower = run
          .map((i) => `${x(elapsed[i]).toFixed(1)},${y(accumulated[i] - estimated[i]).toFixed(1)}`)
          .reverse();
        parts.push(`M${upper.join("L")}L${lower.join("L")}Z`);
      }
      run = [];
    };
    for (let i = 0; i < elapsed.length; i += 1) {
      if (gaps[i] && !(bridged[i] > 0)) {
        close();
      }
      run.push(i);
    }
    close();
    return { d: parts.join(""), points: elapsed.length };
  }

  // Path data of the dashed bridges: one segment of the accumulated energy over each gap whose
  // energy was estimated.
  function bridges(elapsed, accumulated, gaps, bridged, x, y) {
    const parts = [];
    for (let i = 1; i < elapsed.length; i += 1) {
      if (gaps[i] && bridged[i] > 0) {
        parts.push(
          `M${x(elapsed[i - 1]).toFixed(1)},${y(accumulated[i - 1]).toFixed(1)}` +
            `L${x(elapsed[i]).toFixed(1)},${y(accumulated[i]).toFixed(1)}`
        );
      }
    }
    return { d: parts.join(""), points: parts.length * 2 };
  }

  // An anomaly in words: its kind and phase, and its evidence (the worst value, what was expected
  // and the limit applied, in the unit of its measure).
  function anomalyLabel(anomaly) {
    return `${anomaly.kind.replace(/_/g, " ")}${anomaly.phase ? ` ${anomaly.phase}` : ""}`;
  }

  function anomalyEvidence(anomaly) {
    const unit = EVIDENCE_UNITS[anomaly.measure] || "";
    const decimals = anomaly.measure === "energy_wh" ? 0 : 1;
    const value = (number) => `${Number(number).toFixed(decimals)} ${unit}`;
    const parts = [`worst ${value(anomaly.extreme_value)}`];
    if (anomaly.expected_value !== null) {
      parts.push(`expected ${value(anomaly.expected_value)}`);
    }
    if (anomaly.limit_value !== null) {
      parts.push(`limit ${value(anomaly.limit_value)}`);
    }
    return parts.join(", ");
  }

  function legend(container, hasEstimate, severities) {
    const items = [
      ["s-power", "Power"],
      ["s-energy", "Accumulated energy"],
      ...(hasEstimate ? [["s-energy-estimated", "of which estimated across telemetry gaps and missing values"]] : []),
      ["s-l1", "Phase L1"],
      ["s-l2", "Phase L2"],
      ["s-l3", "Phase L3"],
      ["big-change-key", "Big change"],
      ...severities.map((severity) => [`anomaly-key ${severity}`, `Anomaly (${severity})`]),
    ];
    container.replaceChildren(
      ...items.map(([cls, label]) => {
        const item = document.createElement("span");
        item.className = "legend-item";
        const swatch = document.createElement("span");
        swatch.className = `swatch ${cls}`;
        item.append(swatch, label);
        return item;
      })
    );
  }

  // Draw `options.profile` (columnar arrays) into `container`; returns what was drawn.
  function draw(container, legendContainer, options) {
    const { profile, bigChanges, startedAt, timeZone } = options;
    const anomalies = options.anomalies || [];
    const elapsed = profile.elapsed_s || [];
    const gaps = profile.is_gap_before || [];
    const startMs = Date.parse(startedAt);
    const durationS = Math.max(options.durationS || 0, elapsed.length ? elapsed[elapsed.length - 1] : 0, 60);
    const width = Math.max(container.clientWidth || 0, 480);
    const plotWidth = width - MARGIN.left - MARGIN.right;
    const height = MARGIN.top + PANELS.length * (PANEL_HEIGHT + PANEL_GAP) - PANEL_GAP + MARGIN.bottom;
    const svg = element("svg", {
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: "img",
      "aria-label": "Charging profile",
      class: "profile-chart",
    });
    const x = (seconds) => MARGIN.left + (seconds / durationS) * plotWidth;
    const clock = new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    const day = new Intl.DateTimeFormat("en-GB", { timeZone, day: "numeric", month: "short", year: "numeric" });
    const ticks = timeTicks(startMs, durationS);
    const drawn = { readings: elapsed.length, series: {}, markers: 0, anomalies: 0 };
    const panelScales = {};
    const accumulated = profile.accumulated_energy_wh || [];
    const estimated = profile.accumulated_estimated_energy_wh || [];
    const bridged = profile.interval_estimated_energy_wh || [];
    const defs = element("defs", {}, svg);
    const hatch = element(
      "pattern",
      { id: HATCH_ID, patternUnits: "userSpaceOnUse", width: 6, height: 6, patternTransform: "rotate(45)" },
      defs
    );
    element("line", { x1: 0, y1: 0, x2: 0, y2: 6, class: "hatch-line" }, hatch);

    PANELS.forEach((panel, index) => {
      const top = MARGIN.top + index * (PANEL_HEIGHT + PANEL_GAP);
      const bottom = top + PANEL_HEIGHT;
      const group = element("g", { class: `panel panel-${panel.key}`, "data-panel": panel.key }, svg);
      text(group, MARGIN.left, top - 6, panel.title, "panel-title");
      element("rect", { x: MARGIN.left, y: top, width: plotWidth, height: PANEL_HEIGHT, class: "plot-area" }, group);

      const [low, high] = extent(profile, panel.series);
      const yTicks = niceTicks(panel.key === "power" ? Math.min(0, low) : low, high, 4);
      const yLow = yTicks[0];
      const yHigh = yTicks[yTicks.length - 1];
      const y = (value) => bottom - ((value - yLow) / (yHigh - yLow)) * PANEL_HEIGHT;
      panelScales[panel.measure] = y;
      for (const tick of yTicks) {
        element("line", { x1: MARGIN.left, x2: MARGIN.left + plotWidth, y1: y(tick), y2: y(tick), class: "grid" }, group);
        text(group, MARGIN.left - 6, y(tick) + 4, String(tick), "axis-label left");
      }
      for (const tick of ticks) {
        element("line", { x1: x(tick), x2: x(tick), y1: top, y2: bottom, class: "grid" }, group);
      }

      // the anomalies of this panel's measure: a band over their span, under the lines
      for (const anomaly of anomalies.filter((item) => ANOMALY_PANELS[item.measure] === panel.key)) {
        const from = Math.min(Math.max(Number(anomaly.started_elapsed_s), 0), durationS);
        const to = Math.min(Math.max(Number(anomaly.ended_elapsed_s), from), durationS);
        const left = x(from);
        const bandWidth = Math.max(x(to) - left, ANOMALY_MIN_WIDTH);
        const band = element(
          "rect",
          {
            x: Math.min(left, MARGIN.left + plotWidth - bandWidth),
            y: top,
            width: bandWidth,
            height: PANEL_HEIGHT,
            class: `anomaly-band ${anomaly.severity}`,
            "data-anomaly-id": anomaly.anomaly_id,
            "data-kind": anomaly.kind,
            "data-severity": anomaly.severity,
            "data-phase": anomaly.phase || "",
          },
          group
        );
        const title = element("title", {}, band);
        const span = `${clock.format(new Date(Date.parse(anomaly.started_at)))}–` +
          `${clock.format(new Date(Date.parse(anomaly.ended_at)))}`;
        title.textContent = `${anomalyLabel(anomaly)} (${anomaly.severity}${anomaly.is_open ? ", open" : ""}) ` +
          `${span}: ${anomalyEvidence(anomaly)}`;
        drawn.anomalies += 1;
      }

      const lines = panel.series.map((series) => ({ ...series, y }));
      if (panel.right) {
        const [, rightHigh] = extent(profile, [panel.right]);
        const rightTicks = niceTicks(0, rightHigh, 4);
        const rightTop = rightTicks[rightTicks.length - 1];
        const yRight = (value) => bottom - (value / rightTop) * PANEL_HEIGHT;
        for (const tick of rightTicks) {
          text(group, MARGIN.left + plotWidth + 6, yRight(tick) + 4, String(tick), "axis-label right");
        }
        lines.push({ ...panel.right, y: yRight });
        const yEnergy = (wh) => yRight(wh * panel.right.scale);
        const band = estimatedBand(elapsed, accumulated, estimated, gaps, bridged, x, yEnergy);
        element(
          "path",
          {
            d: band.d,
            fill: `url(#${HATCH_ID})`,
            class: "energy-estimated",
            "data-series": "accumulated_estimated_energy_wh",
            "data-points": band.points,
          },
          group
        );
        drawn.series.accumulated_estimated_energy_wh = band.points;
        const bridge = bridges(elapsed, accumulated, gaps, bridged, x, yEnergy);
        element(
          "path",
          {
            d: bridge.d,
            class: "series s-energy-bridge",
            "data-series": "interval_estimated_energy_wh",
            "data-points": bridge.points,
          },
          group
        );
        drawn.series.interval_estimated_energy_wh = bridge.points;
      }
      for (const series of lines) {
        const { d, points } = pathData(elapsed, profile[series.field] || [], gaps, series.scale, x, series.y);
        element("path", { d, class: `series ${series.cls}`, "data-series": series.field, "data-points": points }, group);
        drawn.series[series.field] = points;
      }
    });

    // the shared time axis under the last panel
    const axisY = MARGIN.top + PANELS.length * (PANEL_HEIGHT + PANEL_GAP) - PANEL_GAP;
    let previousDay = null;
    for (const tick of ticks) {
      const moment = new Date(startMs + tick * 1000);
      text(svg, x(tick), axisY + 16, clock.format(moment), "axis-label time");
      const date = day.format(moment);
      if (date !== previousDay) {
        text(svg, x(tick), axisY + 30, date, "axis-label time date");
        previousDay = date;
      }
    }

    // big changes: a dot on the series that changed; a tick on the power panel for a phase's power
    const markers = element("g", { class: "markers" }, svg);
    for (const change of bigChanges) {
      const y = panelScales[change.measure];
      const phase = change.phase.toLowerCase();
      const isPhasePower = change.measure === "power_w" && phase !== "total";
      const scale = change.measure === "power_w" ? 0.001 : 1;
      const cx = x(change.elapsed_s);
      let marker;
      if (isPhasePower) {
        const bottom = y(0);
        marker = element("line", { x1: cx, x2: cx, y1: bottom, y2: bottom - 8, class: `big-change tick s-${phase}` }, markers);
      } else {
        marker = element("circle", { cx, cy: y(change.new_value * scale), r: 3.5, class: `big-change s-${phase}` }, markers);
      }
      marker.setAttribute("data-measure", change.measure);
      marker.setAttribute("data-phase", change.phase);
      const percent = change.change_pct === null ? "from 0" : `${change.change_pct.toFixed(1)} %`;
      const title = element("title", {}, marker);
      title.textContent =
        `${clock.format(new Date(startMs + change.elapsed_s * 1000))} ${change.measure} ${change.phase}: ` +
        `${(change.previous_value * scale).toFixed(2)} → ${(change.new_value * scale).toFixed(2)} ` +
        `${UNITS[change.measure]} (${percent})`;
      drawn.markers += 1;
    }

    // a cursor line across the panels and a read-out of the nearest reading
    const cursor = element("line", { x1: 0, x2: 0, y1: MARGIN.top, y2: axisY, class: "cursor", visibility: "hidden" }, svg);
    const readout = document.createElement("p");
    readout.className = "readout";
    readout.textContent = elapsed.length ? "Point at the chart to read the values." : "";
    const overlay = element("rect", { x: MARGIN.left, y: MARGIN.top, width: plotWidth, height: axisY - MARGIN.top, class: "overlay" }, svg);
    overlay.addEventListener("mousemove", (event) => {
      if (!elapsed.length) {
        return;
      }
      const box = svg.getBoundingClientRect();
      const seconds = ((event.clientX - box.left - MARGIN.left) / plotWidth) * durationS;
      let nearest = 0;
      for (let i = 1; i < elapsed.length; i += 1) {
        if (Math.abs(elapsed[i] - seconds) < Math.abs(elapsed[nearest] - seconds)) {
          nearest = i;
        }
      }
      cursor.setAttribute("x1", x(elapsed[nearest]));
      cursor.setAttribute("x2", x(elapsed[nearest]));
      cursor.setAttribute("visibility", "visible");
      const value = (field, decimals, scale = 1) =>
        profile[field][nearest] === null ? "–" : (profile[field][nearest] * scale).toFixed(decimals);
      const measured = (phase) =>
        ["current", "voltage", "temperature"].some((measure) => {
          const series = profile[`${measure}_${phase}_${{ current: "a", voltage: "v", temperature: "c" }[measure]}`];
          return series && series[nearest] !== null;
        });
      const phases = PHASES.filter(measured).map(
        (phase) =>
          `${phase.toUpperCase()} ${value(`current_${phase}_a`, 1)} A ${value(`voltage_${phase}_v`, 0)} V ` +
          `${value(`temperature_${phase}_c`, 0)} °C`
      ).join(" · ");
      const estimate = estimated[nearest] > 0 ? ` (${value("accumulated_estimated_energy_wh", 2, 0.001)} estimated)` : "";
      readout.textContent =
        `${clock.format(new Date(startMs + elapsed[nearest] * 1000))} · ${value("power_w", 2, 0.001)} kW · ` +
        `${value("accumulated_energy_wh", 2, 0.001)} kWh${estimate} · ${phases}`;
    });

    container.replaceChildren(svg, readout);
    const severities = ["warning", "critical"].filter((severity) =>
      anomalies.some((anomaly) => anomaly.severity === severity)
    );
    legend(legendContainer, drawn.series.accumulated_estimated_energy_wh > 0, severities);
    container.dataset.readings = String(drawn.readings);
    container.dataset.markers = String(drawn.markers);
    container.dataset.anomalies = String(drawn.anomalies);
    return drawn;
  }

  return { draw, niceTicks, anomalyLabel, anomalyEvidence };
})();
