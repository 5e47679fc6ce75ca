// Downloads: a chart as SVG or PNG (the SVG drawn on a canvas at twice the size), a table as CSV.
// Each says that the population is synthetic: a caption under the chart, a comment line atop the CSV.
import { SYNTHETIC_CAPTION, SYNTHETIC_CSV_LINE } from "../../../src/io/synthetic";

function save(blob: Blob, filename: string): void {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

/**
 * One standalone SVG from a chart node: Plot returns an <svg>, or a <figure> holding a legend
 * and the plot as separate SVGs; those are stacked into one, with the title on top and the
 * synthetic-population caption below.
 */
export function chartSvg(node: Element, title: string): string {
  const svgs = node.tagName.toLowerCase() === "svg" ? [node as SVGSVGElement] : [...node.querySelectorAll("svg")].filter((s) => !s.parentElement?.closest("svg"));
  const width = Math.max(...svgs.map((s) => Number(s.getAttribute("width")) || s.getBoundingClientRect().width));
  const NS = "http://www.w3.org/2000/svg";
  const out = document.createElementNS(NS, "svg");
  out.setAttribute("xmlns", NS);
  const bg = document.createElementNS(NS, "rect");
  bg.setAttribute("width", "100%");
  bg.setAttribute("height", "100%");
  bg.setAttribute("fill", "white");
  out.append(bg);
  const t = document.createElementNS(NS, "text");
  t.setAttribute("x", "4");
  t.setAttribute("y", "18");
  t.setAttribute("font-family", "system-ui, sans-serif");
  t.setAttribute("font-size", "15");
  t.setAttribute("font-weight", "600");
  t.textContent = title;
  out.append(t);
  let y = 30;
  for (const s of svgs) {
    const c = s.cloneNode(true) as SVGSVGElement;
    const h = Number(s.getAttribute("height")) || s.getBoundingClientRect().height;
    c.setAttribute("y", String(y));
    c.setAttribute("x", "0");
    out.append(c);
    y += h + 8;
  }
  const caption = document.createElementNS(NS, "text");
  caption.setAttribute("x", "4");
  caption.setAttribute("y", String(y + 12));
  caption.setAttribute("font-family", "system-ui, sans-serif");
  caption.setAttribute("font-size", "12");
  caption.setAttribute("fill", "#555");
  caption.textContent = SYNTHETIC_CAPTION;
  out.append(caption);
  y += 22;
  out.setAttribute("width", String(width));
  out.setAttribute("height", String(y));
  out.setAttribute("viewBox", `0 0 ${width} ${y}`);
  return new XMLSerializer().serializeToString(out);
}

export const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "chart";

export function downloadSvg(node: Element, title: string): void {
  save(new Blob([chartSvg(node, title)], { type: "image/svg+xml" }), `${slug(title)}.svg`);
}

export async function downloadPng(node: Element, title: string): Promise<void> {
  const text = chartSvg(node, title);
  const img = new Image();
  const url = URL.createObjectURL(new Blob([text], { type: "image/svg+xml" }));
  await new Promise<void>((resolve, reject) => {
    img.onload = () => resolve();
    img.onerror = () => reject(new Error("could not draw the chart"));
    img.src = url;
  });
  const scale = 2;
  const canvas = document.createElement("canvas");
  canvas.width = img.width * scale;
  canvas.height = img.height * scale;
  const ctx = canvas.getContext("2d")!;
  ctx.scale(scale, scale);
  ctx.drawImage(img, 0, 0);
  URL.revokeObjectURL(url);
  const blob = await new Promise<Blob>((resolve) => canvas.toBlob((b) => resolve(b!), "image/png"));
  save(blob, `${slug(title)}.png`);
}

const csvCell = (v: unknown): string => {
  let s = v === null || v === undefined ? "" : String(v);
  // A spreadsheet runs a text cell that begins with = + - @ (or tab, CR) as a formula: a quote
  // makes it text. Numbers are written as numbers (a negative one is not text).
  if (typeof v !== "number" && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

export function toCsv(columns: string[], rows: Record<string, unknown>[]): string {
  return [columns.map(csvCell).join(","), ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(","))].join("\n") + "\n";
}

/** The CSV file of a table: a comment line saying the population is synthetic, then the table. */
export function downloadCsv(columns: string[], rows: Record<string, unknown>[], title: string): void {
  save(new Blob([`${SYNTHETIC_CSV_LINE}\n${toCsv(columns, rows)}`], { type: "text/csv" }), `${slug(title)}.csv`);
}
