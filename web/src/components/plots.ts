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

/** Lines over time, each labelled at its end (so a downloaded SVG carries its own legend). */
export function lines(data: Row[], width: number, opts: { percent?: boolean; yLabel?: string; colors?: string[]; dashed?: (series: string) => boolean } = {}): Element {
  const names = [...new Set(data.map((d) => d.series))];
  const right = Math.min(220, Math.max(60, ...names.map((n) => n.length * 6.6 + 12)));
  return Plot.plot({
    width,
    height: 240,
    marginRight: right,
    marginLeft: 56,
    style: { fontSize: "12px", fontFamily: "system-ui, -apple-system, Segoe UI, sans-serif" },
    x: { type: "utc", label: null },
    y: { grid: true, label: opts.yLabel ?? null, percent: opts.percent, nice: true, zero: true },
    color: { domain: names, range: opts.colors ?? PALETTE },
    marks: [
      Plot.ruleY([0], { stroke: "#adb5bd" }),
      Plot.lineY(data, { filter: (d: Row) => !opts.dashed?.(d.series), x: "date", y: "value", stroke: "series", strokeWidth: 2, curve: "monotone-x" }),
      Plot.lineY(data, { filter: (d: Row) => !!opts.dashed?.(d.series), x: "date", y: "value", stroke: "series", strokeWidth: 2, curve: "monotone-x", strokeDasharray: "6,3" }),
      Plot.text(data, Plot.selectLast({ x: "date", y: "value", z: "series", text: "series", fill: "series", textAnchor: "start", dx: 6, fontWeight: 600 })),
      Plot.tip(data, Plot.pointerX({ x: "date", y: "value", stroke: "series", title: (d: Row) => `${d.series}\n${d.date.toISOString().slice(0, 10)}: ${opts.percent ? (d.value * 100).toFixed(2) + "%" : Math.round(d.value * 100) / 100}` })),
    ],
  });
}
