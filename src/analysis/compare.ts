// Comparing two regimes: each headline metric on both sides with a 95% interval over
// replicates (seeds), and the difference B - A with a Welch interval, so that "appeals halve
// wrongful listings" is a claim with an interval, not a single draw.
import type { Summary } from "../model/result.js";
import { meanInterval, tQuantile } from "./stats.js";

export const HEADLINE_METRICS = [
  "blacklisted_share", "wrongful_listings_per_capita", "redlisted_share",
  "blocked_per_capita.flights", "blocked_per_capita.trains",
  "chilling", "isolation_of_listed", "ties_dropped_per_capita", "association_penalty_share",
  "appeals_filed_per_capita", "appeal_success_rate", "misattributed_share", "mean_score",
];

export interface Estimate {
  mean: number;
  /** 95% interval; equal to the mean when there is a single replicate. */
  lo: number;
  hi: number;
  n: number;
}

export interface MetricComparison {
  metric: string;
  a: Estimate;
  b: Estimate;
  diff: Estimate;
  /** B / A - 1, or null when A is 0. */
  relative: number | null;
  /** The difference's interval excludes 0. */
  significant: boolean;
}

/** Mean and variance (0 with one value). */
const meanVar = (xs: number[]) => {
  const iv = meanInterval(xs);
  return { n: iv.n, mean: iv.mean, v: iv.n > 1 ? iv.sd * iv.sd : 0 };
};

export function estimate(xs: number[]): Estimate {
  const { n, mean, low, high } = meanInterval(xs);
  return n < 2 ? { mean, lo: mean, hi: mean, n } : { mean, lo: low, hi: high, n };
}

/** Welch's interval for mean(b) - mean(a). */
export function difference(a: number[], b: number[]): Estimate {
  const A = meanVar(a), B = meanVar(b);
  const mean = B.mean - A.mean;
  if (A.n < 2 || B.n < 2) return { mean, lo: mean, hi: mean, n: Math.min(A.n, B.n) };
  const sa = A.v / A.n, sb = B.v / B.n;
  const se = Math.sqrt(sa + sb);
  if (se === 0) return { mean, lo: mean, hi: mean, n: Math.min(A.n, B.n) };
  const df = (sa + sb) ** 2 / ((sa * sa) / (A.n - 1) + (sb * sb) / (B.n - 1));
  const h = tQuantile(0.975, df) * se;
  return { mean, lo: mean - h, hi: mean + h, n: Math.min(A.n, B.n) };
}

/** Compare the metrics both sides have (the headline ones by default), in the given order. */
export function compareSummaries(a: Summary[], b: Summary[], metrics: string[] = HEADLINE_METRICS): MetricComparison[] {
  const values = (side: Summary[], m: string) => side.map((s) => s.metrics[m]).filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  const out: MetricComparison[] = [];
  for (const metric of metrics) {
    const xa = values(a, metric), xb = values(b, metric);
    if (!xa.length || !xb.length) continue;
    const ea = estimate(xa), eb = estimate(xb), diff = difference(xa, xb);
    out.push({
      metric, a: ea, b: eb, diff,
      relative: ea.mean !== 0 ? eb.mean / ea.mean - 1 : null,
      significant: diff.n >= 2 && (diff.lo > 0 || diff.hi < 0),
    });
  }
  return out;
}

/** Every metric key present on both sides (for --all), headline ones first. */
export function sharedMetrics(a: Summary[], b: Summary[]): string[] {
  const keys = new Set(Object.keys(a[0]?.metrics ?? {}).filter((k) => k in (b[0]?.metrics ?? {})));
  return [...HEADLINE_METRICS.filter((k) => keys.has(k)), ...[...keys].filter((k) => !HEADLINE_METRICS.includes(k))];
}
