// Number formatting for the page.
const intFmt = new Intl.NumberFormat("en-GB", { maximumFractionDigits: 0 });
export const fmtInt = (n: unknown) => (n === null || n === undefined || Number.isNaN(Number(n)) ? "—" : intFmt.format(Number(n)));
export const fmtNum = (n: unknown, digits = 2) =>
  n === null || n === undefined || Number.isNaN(Number(n)) ? "—" : new Intl.NumberFormat("en-GB", { maximumFractionDigits: digits }).format(Number(n));
export const fmtPct = (n: unknown, digits = 1) => (n === null || n === undefined || Number.isNaN(Number(n)) ? "—" : `${(Number(n) * 100).toFixed(digits)}%`);
export const fmtCompact = (n: number) => new Intl.NumberFormat("en-GB", { notation: "compact", maximumFractionDigits: 1 }).format(n);
export const fmtDate = (iso: string) => (iso ? new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" }) : "—");
/** A metric value: shares as percentages, small rates with significant digits, counts as integers. */
export function fmtMetric(name: string, v: unknown): string {
  const n = Number(v);
  if (v === null || v === undefined || Number.isNaN(n)) return "—";
  if (/share|rate|chilling|isolation|ratio/.test(name) && Math.abs(n) <= 1.5) return fmtPct(n, 2);
  if (Number.isInteger(n)) return fmtInt(n);
  return Math.abs(n) < 1 ? n.toPrecision(3) : fmtNum(n, 2);
}
/** "on_low-score" -> "on low-score" for labels. */
export const label = (metric: string) => metric.replace(/_/g, " ");
/** The daily column of a metric, as the store names it ("on_low-score" -> "on_low_score"). */
export { columnName as col } from "../../src/engine/counters";
