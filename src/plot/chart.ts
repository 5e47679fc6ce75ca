// Charts for files, not browsers: Observable Plot renders into jsdom's document, the SVG is
// framed with a title, subtitle and legend above and a caption saying the population is
// synthetic below, and resvg turns it into a PNG. One small spec
// (points with optional intervals and series) serves sweeps and reports alike.
import fs from "node:fs";
import path from "node:path";
import * as Plot from "@observablehq/plot";
import { Resvg } from "@resvg/resvg-js";
import { JSDOM } from "jsdom";
import { writeFileAtomic } from "../io/atomic.js";
import { SYNTHETIC_CAPTION } from "../io/synthetic.js";

export interface ChartPoint {
  x: number | string;
  y: number;
  /** The interval around y (e.g. a 95% confidence interval); drawn as a bar and, for numeric x, a band. */
  low?: number | null;
  high?: number | null;
  /** Series name: one colour each, named in the legend. */
  series?: string;
}

export interface ChartSpec {
  title: string;
  subtitle?: string;
  /** Axis labels, with units. */
  xLabel: string;
  yLabel: string;
  /** What the series are (the legend's heading). */
  legendLabel?: string;
  points: ChartPoint[];
  /** Show y as percentages (values are shares 0..1). */
  yPercent?: boolean;
  width?: number;
  height?: number;
}

const FONT = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif";
const SVG_NS = "http://www.w3.org/2000/svg";
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** The chart as a standalone SVG document (white background, fonts named for resvg). */
export function chartSvg(spec: ChartSpec): string {
  const width = spec.width ?? 860;
  const height = spec.height ?? 540;
  const { document } = new JSDOM("").window;
  const numericX = spec.points.every((p) => typeof p.x === "number");
  const seriesNames = [...new Set(spec.points.map((p) => p.series ?? ""))];
  const hasSeries = seriesNames.length > 1 || (seriesNames[0] ?? "") !== "";
  const z = hasSeries ? "series" : undefined;
  const colour = hasSeries ? "series" : "#1f5fa8";
  // Series that share x values are nudged apart (by 0.6% of the x range each), so that their
  // interval bars do not hide one another; sorted by x so lines and bands run left to right.
  const xs = numericX ? spec.points.map((p) => p.x as number) : [];
  const nudge = numericX && hasSeries ? (Math.max(...xs) - Math.min(...xs)) * 0.006 : 0;
  const shift = (p: ChartPoint): ChartPoint =>
    nudge ? { ...p, x: (p.x as number) + nudge * (seriesNames.indexOf(p.series ?? "") - (seriesNames.length - 1) / 2) } : p;
  const data = spec.points.map(shift).sort((a, b) => (numericX ? (a.x as number) - (b.x as number) : 0));
  const withInterval = data.filter((p) => Number.isFinite(p.low) && Number.isFinite(p.high));
  const band = numericX ? withInterval : [];

  const headerHeight = 28 + (spec.subtitle ? 22 : 0) + (hasSeries ? 28 : 0) + 10;
  const captionHeight = 22;
  const plot = Plot.plot({
    document,
    width,
    height: height - headerHeight - captionHeight,
    marginLeft: 70,
    marginBottom: 50,
    marginRight: 30,
    style: { fontSize: "12px", fontFamily: FONT },
    x: numericX ? { label: spec.xLabel, labelAnchor: "center", labelOffset: 40, nice: !nudge, inset: nudge ? 14 : 0 } : { type: "point", label: spec.xLabel, labelAnchor: "center", labelOffset: 40, padding: 0.5 },
    y: { label: spec.yLabel, labelAnchor: "center", labelOffset: 55, percent: spec.yPercent, grid: true, nice: true, zero: false },
    color: hasSeries ? { type: "categorical", domain: seriesNames, scheme: "tableau10" } : undefined,
    marks: [
      band.length ? Plot.areaY(band, { x: "x", y1: "low", y2: "high", z, fill: colour, fillOpacity: 0.14 }) : null,
      withInterval.length ? Plot.ruleX(withInterval, { x: "x", y1: "low", y2: "high", stroke: colour, strokeWidth: 2, strokeOpacity: 0.75 }) : null,
      numericX ? Plot.lineY(data, { x: "x", y: "y", z, stroke: colour, strokeWidth: 2 }) : null,
      Plot.dot(data, { x: "x", y: "y", fill: colour, r: 4, stroke: "white", strokeWidth: 1 }),
    ],
  }) as SVGSVGElement & { scale(name: "color"): { apply(v: string): string } | undefined };
  plot.setAttribute("x", "0");
  plot.setAttribute("y", String(headerHeight));
  plot.removeAttribute("class");
  plot.querySelectorAll("style").forEach((s) => s.remove());

  const parts: string[] = [];
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(`<text x="20" y="30" font-size="19" font-weight="bold" fill="#111">${esc(spec.title)}</text>`);
  let y = 30;
  if (spec.subtitle) {
    y += 22;
    parts.push(`<text x="20" y="${y}" font-size="13" fill="#555">${esc(spec.subtitle)}</text>`);
  }
  if (hasSeries) {
    y += 28;
    const scale = plot.scale("color");
    let x = 20;
    if (spec.legendLabel) {
      parts.push(`<text x="${x}" y="${y}" font-size="13" fill="#333">${esc(spec.legendLabel)}:</text>`);
      x += 14 + spec.legendLabel.length * 7.6;
    }
    for (const name of seriesNames) {
      const c = scale?.apply(name) ?? "#333";
      parts.push(`<rect x="${x}" y="${y - 11}" width="14" height="14" rx="2" fill="${c}"/>`);
      parts.push(`<text x="${x + 20}" y="${y}" font-size="13" fill="#333">${esc(name)}</text>`);
      x += 20 + name.length * 7.6 + 22;
    }
  }
  parts.push(`<text x="20" y="${height - 8}" font-size="12" fill="#555">${esc(SYNTHETIC_CAPTION)}</text>`);
  return `<svg xmlns="${SVG_NS}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">${parts.join("")}${plot.outerHTML}</svg>\n`;
}

/** PNG of an SVG document, at `scale` times its size (2: sharp on high-density screens and in print). */
export function svgToPng(svg: string, scale = 2): Buffer {
  const r = new Resvg(svg, {
    fitTo: { mode: "zoom", value: scale },
    background: "white",
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
  });
  return r.render().asPng();
}

/** Writes `<base>.svg` and `<base>.png`; returns their paths. */
export function writeChart(spec: ChartSpec, base: string): { svg: string; png: string } {
  const svg = chartSvg(spec);
  fs.mkdirSync(path.dirname(path.resolve(base)), { recursive: true });
  const files = { svg: `${base}.svg`, png: `${base}.png` };
  writeFileAtomic(files.svg, svg);
  writeFileAtomic(files.png, svgToPng(svg));
  return files;
}
