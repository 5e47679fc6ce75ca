// Charts for reports, rendered server-side: Observable Plot draws into a jsdom document and
// the result is serialised as inline SVG, so a report needs no script and no network to open.
import * as Plot from "@observablehq/plot";
import { JSDOM } from "jsdom";

const FONT = "font-family: 'Source Sans 3', 'Helvetica Neue', Arial, sans-serif; font-size: 11px; overflow: visible;";
/** A colour-blind-safe palette (Okabe-Ito), in a fixed order so that a series keeps its colour. */
export const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"];

let doc: Document | null = null;
const document = (): Document => (doc ??= new JSDOM("<!doctype html><html><body></body></html>").window.document);

function render(options: Plot.PlotOptions): string {
  const node = Plot.plot({ document: document(), style: FONT, width: 640, height: 240, marginLeft: 56, ...options });
  // Plot returns an <svg>, or a <figure> holding one and a legend: both serialise to markup.
  return (node as unknown as Element).outerHTML;
}

export interface SeriesPoint {
  date: Date;
  series: string;
  value: number;
}

/** Lines over time, one per series, with a colour legend. */
export function lineChart(points: SeriesPoint[], opts: { y: string; percent?: boolean; height?: number }): string {
  const series = [...new Set(points.map((p) => p.series))];
  return render({
    height: opts.height ?? 240,
    x: { type: "utc", label: null },
    y: { label: opts.y, grid: true, zero: true, percent: opts.percent, tickFormat: opts.percent ? undefined : "~s" },
    color: { domain: series, range: PALETTE.slice(0, Math.max(1, series.length)), legend: series.length > 1 },
    marks: [
      Plot.ruleY([0], { stroke: "#999" }),
      Plot.lineY(points, { x: "date", y: "value", stroke: "series", strokeWidth: 1.6 }),
    ],
  });
}

export interface Bar {
  label: string;
  series: string;
  value: number;
}

/** Horizontal bars grouped by label (one facet row per label), one colour per series. */
export function barChart(bars: Bar[], opts: { x: string; percent?: boolean }): string {
  const labels = [...new Set(bars.map((b) => b.label))];
  const series = [...new Set(bars.map((b) => b.series))];
  return render({
    height: 40 + labels.length * (6 + 11 * series.length) + (series.length > 1 ? 24 : 0),
    marginLeft: 140,
    x: { label: opts.x, grid: true, percent: opts.percent, tickFormat: opts.percent ? undefined : "~s" },
    y: { domain: series, axis: null },
    fy: { domain: labels, label: null, padding: 0.15 },
    color: { domain: series, range: PALETTE.slice(0, Math.max(1, series.length)), legend: series.length > 1 },
    marks: [
      Plot.barX(bars, { x: "value", y: "series", fy: "label", fill: "series" }),
      Plot.ruleX([0], { stroke: "#999" }),
    ],
  });
}
