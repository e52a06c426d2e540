"use strict";
// The console's charts: inline SVG of our own (no library, no build step), shared by the
// wallboard and the report pages. Two kinds over one frame: bars (stacked or grouped, one
// <g class="bar-group"> per category) and a line on a 0..1 scale with a target. Every
// chart has a y axis with round ticks and its unit, an x axis with (thinned) category
// labels and its unit, a legend, a <title> on every mark and role="img" with a one-line
// summary (``label``); the page puts a table of the same numbers beside it.
const SBChart = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const W = 640, L = 44, R = 12, B = 34, PLOT_H = 178;

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  // The top of the y scale: a round number at or above ``v``, so ticks are round too.
  function niceMax(v) {
    const steps = [4, 8, 12, 16, 20, 40, 60, 80, 100, 200, 400, 600, 800, 1000];
    if (v <= 1000) return steps.find((s) => s >= v) || 1000;
    const p = 10 ** Math.floor(Math.log10(v));
    return [1, 2, 4, 5, 8, 10].map((m) => m * p).find((s) => s >= v);
  }

  const textWidth = (text) => String(text).length * 7;

  // Legend rows: entries wrap to a new row at the chart's width. Returns the rows drawn.
  function legend(chart, x, entries) {
    let at = x, row = 0;
    for (const [cls, text, kind] of entries) {
      const width = 26 + textWidth(text);
      if (at + width > W - R && at > x) { at = x; row += 1; }
      const y = 10 + row * 16;
      chart.append(kind === "line" ? svg("line", { x1: at, x2: at + 14, y1: y, y2: y, class: cls })
        : svg("rect", { x: at, y: y - 6, width: 12, height: 12, class: cls }));
      chart.append(svg("text", { x: at + 18, y: y + 4, class: "legend" }, text));
      at += width;
    }
    return row + 1;
  }
  function legendRows(x, entries) {
    let at = x, rows = 1;
    for (const [, text] of entries) {
      const width = 26 + textWidth(text);
      if (at + width > W - R && at > x) { at = x; rows += 1; }
      at += width;
    }
    return rows;
  }

  // The frame every chart shares: ``slots`` categories (at least ``minSlots`` wide, so a
  // few bars stay bars), the legend's rows above the plot.
  function frame(opts, entries) {
    const rows = legendRows(L + 60, entries);
    const T = 28 + (rows - 1) * 16;
    const H = T + PLOT_H + B;
    const n = opts.categories.length;
    const bw = (W - L - R) / Math.max(opts.minSlots || 12, n);
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": opts.label });
    return { chart, T, H, bw, n, cx: (i) => L + i * bw + bw / 2, left: (i) => L + i * bw };
  }

  function yAxis(f, max, ticks, format, unit) {
    const y = (v) => f.H - B - (v / max) * (f.H - f.T - B);
    for (const v of ticks) {
      f.chart.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid-line" }),
        svg("text", { x: L - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, format(v)));
    }
    if (unit) f.chart.append(svg("text", { x: 4, y: f.T - 8, class: "axis" }, unit));
    return y;
  }

  function xAxis(f, categories, unit) {
    const { chart, H } = f;
    chart.append(svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis-line" }));
    // as many labels as fit: every k-th (at most 8, none overlapping), each cut to its room
    const room = Math.max(f.bw, 1);
    const longest = Math.max(1, ...categories.map((c) => String(c).length));
    const every = Math.max(1, Math.ceil(categories.length / 8), Math.min(Math.ceil((longest * 6.5 + 8) / room),
      Math.ceil(categories.length / 2)));
    const chars = Math.max(3, Math.floor((room * every) / 6.5));
    categories.forEach((text, i) => {
      if (i % every) return;
      const x = f.cx(i);
      const shown = String(text).length > chars ? String(text).slice(0, chars - 1) + "…" : String(text);
      chart.append(svg("line", { x1: x, x2: x, y1: H - B, y2: H - B + 4, class: "axis-line" }),
        svg("text", { x, y: H - B + 16, class: "axis", "text-anchor": "middle" }, shown));
    });
    if (unit) chart.append(svg("text", { x: W - R, y: H - 4, class: "axis", "text-anchor": "end" }, unit));
  }

  /** Bars per category.
   * opts: categories (x labels), series [{cls, name, values}], stacked (default true),
   * label (the summary), unit (y), xUnit, title(i) (each bar's tooltip), format(v) for the
   * ticks, scale (a value -> display multiplier for the ticks, e.g. seconds -> hours). */
  function bars(opts) {
    const series = opts.series;
    const stacked = opts.stacked !== false;
    const entries = series.map((s) => [s.cls, s.name]);
    const f = frame(opts, entries);
    const val = (s, i) => Math.max(0, Number(s.values[i]) || 0);
    const tops = opts.categories.map((_, i) => (stacked ? series.reduce((sum, s) => sum + val(s, i), 0)
      : Math.max(0, ...series.map((s) => val(s, i)))));
    const scale = opts.scale || 1;
    const max = niceMax(Math.max(1, ...tops) * scale) / scale;
    const ticks = [0, 1, 2, 3, 4].map((k) => (max / 4) * k);
    const format = opts.format || ((v) => { const s = v * scale; return Number.isInteger(s) ? s : s.toFixed(1); });
    const y = yAxis(f, max, ticks, format, opts.unit);
    const base = f.H - B;
    opts.categories.forEach((_, i) => {
      const group = svg("g", { class: "bar-group", "data-index": i });
      const title = opts.title ? opts.title(i) : "";
      let below = 0;
      series.forEach((s, k) => {
        const v = val(s, i);
        let x = f.left(i) + 1, width = Math.max(1, f.bw - 2), top, height;
        if (stacked) { top = y(below + v); height = y(below) - y(below + v); below += v; }
        else {
          width = Math.max(1, (f.bw - 2) / series.length);
          x = f.left(i) + 1 + k * width;
          top = y(v); height = base - y(v);
        }
        group.append(svg("rect", { x, y: top, width, height, class: s.cls }, svg("title", {}, title)));
      });
      f.chart.append(group);
    });
    xAxis(f, opts.categories, opts.xUnit);
    legend(f.chart, L + 60, entries);
    return f.chart;
  }

  /** A line of fractions (0..1; null: no value) with a dashed target.
   * opts: categories, values, label, name (the legend's), target, targetName, format. */
  function line(opts) {
    const entries = [["sl-line", opts.name, "line"]];
    if (opts.target !== null && opts.target !== undefined) entries.push(["target", opts.targetName, "line"]);
    const f = frame(opts, entries);
    const y = yAxis(f, 1, [0, 0.25, 0.5, 0.75, 1], opts.format, opts.unit);
    if (opts.target !== null && opts.target !== undefined) {
      f.chart.append(svg("line", { x1: L, x2: W - R, y1: y(opts.target), y2: y(opts.target), class: "target" }),
        svg("text", { x: W - R, y: y(opts.target) - 4, class: "target-label", "text-anchor": "end" }, opts.targetName));
    }
    const pts = opts.values.map((v, i) => [f.cx(i), v, i]).filter((p) => p[1] !== null && p[1] !== undefined);
    if (pts.length) f.chart.append(svg("polyline", { points: pts.map(([x, v]) => `${x},${y(v)}`).join(" "), class: "sl-line" }));
    for (const [x, v, i] of pts) {
      f.chart.append(svg("circle", { cx: x, cy: y(v), r: 3, class: "sl-dot", "data-index": i },
        svg("title", {}, opts.title ? opts.title(i) : opts.format(v))));
    }
    xAxis(f, opts.categories, opts.xUnit);
    legend(f.chart, L + 60, entries);
    return f.chart;
  }

  return { svg, niceMax, legend, bars, line };
})();
