// The chart kinds the pages share, drawn with Observable Plot (SVG).
import * as Plot from "@observablehq/plot";
import type { Row } from "../api";

export const PALETTE = ["#3b5bdb", "#e8590c", "#2b8a3e", "#c2255c", "#7048e8", "#0b7285", "#5c940d", "#862e9c"];

export interface SeriesSpec {
  key: string;
  label: string;
  /** Plot the running total instead of the daily value. */
  cumulative?: boolean;
  /** Divide by this (e.g. population / 100,000). */
  scale?: number;
}

/** Long rows {date, series, value} from daily rows, for several series (and optionally several runs). */
export function longRows(rows: Row[], specs: SeriesSpec[], prefix = ""): Row[] {
  const out: Row[] = [];
  for (const s of specs) {
    let total = 0;
    for (const r of rows) {
      const v = Number(r[s.key] ?? 0) / (s.scale ?? 1);
      total += v;
      out.push({ date: new Date(`${r.date}T00:00:00Z`), day: r.day, series: prefix + s.label, value: s.cumulative ? total : v });
    }
  }
  return out;
}

/**
 * A legend drawn inside the chart's own SVG (Plot's swatch legends are HTML, which a
 * downloaded SVG or PNG would lose): one swatch and name per series along the top.
 */
export function addLegend(svg: Element, names: string[], colors: string[], dashed?: (name: string) => boolean): Element {
  const NS = "http://www.w3.org/2000/svg";
  const g = document.createElementNS(NS, "g");
  g.setAttribute("font-size", "12");
  g.setAttribute("text-anchor", "start");
  g.setAttribute("font-family", "system-ui, -apple-system, Segoe UI, sans-serif");
  let x = 8;
  let y = 12;
  const width = Number(svg.getAttribute("width")) || 600;
  names.forEach((name, i) => {
    const w = 26 + name.length * 6.6 + 14;
    if (x + w > width && x > 8) {
      x = 8;
      y += 18;
    }
    const line = document.createElementNS(NS, "line");
    Object.entries({ x1: x, x2: x + 18, y1: y, y2: y, stroke: colors[i % colors.length], "stroke-width": 3, "stroke-dasharray": dashed?.(name) ? "5,3" : "none" })
      .forEach(([k, v]) => line.setAttribute(k, String(v)));
    const text = document.createElementNS(NS, "text");
    text.setAttribute("x", String(x + 24));
    text.setAttribute("y", String(y + 4));
    text.setAttribute("fill", "#343a40");
    text.textContent = name;
    g.append(line, text);
    x += w;
  });
  svg.append(g);
  return svg;
}

const FONT = { fontSize: "12px", fontFamily: "system-ui, -apple-system, Segoe UI, sans-serif" };

/** Lines over time with the legend in the SVG; `smooth` draws a 7-day moving mean. */
export function lines(data: Row[], width: number, opts: { percent?: boolean; yLabel?: string; colors?: string[]; dashed?: (series: string) => boolean; smooth?: boolean } = {}): Element {
  const names = [...new Set(data.map((d) => d.series))];
  const colors = opts.colors ?? PALETTE;
  const max = Math.max(0, ...data.map((d) => Math.abs(d.value)));
  const rows = Math.ceil(names.reduce((s, n) => s + 40 + n.length * 6.6, 0) / Math.max(200, width - 16));
  const line = (filter: (d: Row) => boolean, dash?: string) => {
    const o = { filter, x: "date", y: "value", z: "series", stroke: "series", strokeWidth: 2, curve: "monotone-x" as const, strokeDasharray: dash };
    return opts.smooth ? Plot.lineY(data, Plot.windowY({ k: 7, anchor: "end" }, o)) : Plot.lineY(data, o);
  };
  const svg = Plot.plot({
    width,
    height: 230 + rows * 18,
    marginTop: 14 + rows * 18,
    marginLeft: 52,
    marginRight: 16,
    style: FONT,
    x: { type: "utc", label: null },
    y: { grid: true, label: opts.yLabel ?? null, percent: opts.percent, nice: true, zero: true, ...(max === 0 ? { domain: [0, 1] } : {}) },
    color: { domain: names, range: colors },
    marks: [
      Plot.ruleY([0], { stroke: "#adb5bd" }),
      line((d: Row) => !opts.dashed?.(d.series)),
      line((d: Row) => !!opts.dashed?.(d.series), "6,3"),
      Plot.tip(data, Plot.pointerX({ x: "date", y: "value", stroke: "series", title: (d: Row) => `${d.series}\n${d.date.toISOString().slice(0, 10)}: ${opts.percent ? (d.value * 100).toFixed(2) + "%" : Math.round(d.value * 100) / 100}` })),
    ],
  });
  return addLegend(svg, names, colors, opts.dashed);
}
