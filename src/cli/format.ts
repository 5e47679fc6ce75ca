// Formatting for people: numbers with thousands separators, shares as percentages, aligned
// text tables, and the run summary (lists, sanctions, appeals, association, chilling, ties,
// observations, informants, income, targets) rendered from the Summary contract.
import type { RunStats, Summary, TargetResult } from "../model/result.js";
import type { Scenario } from "../scenario/schema.js";

const intFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

const isNum = (n: unknown): n is number => typeof n === "number" && Number.isFinite(n);

/** Placeholder for a value that does not exist (no one on the list, nothing to divide by). */
export const NONE = "—";

/** 1234567 -> "1,234,567". */
export function fmtInt(n: number | null | undefined): string {
  return isNum(n) ? intFmt.format(Math.round(n)) : NONE;
}

/** A number with at most `digits` decimals and thousands separators: 1234.5 -> "1,234.5". */
export function fmtNum(n: number | null | undefined, digits = 2): string {
  if (!isNum(n)) return NONE;
  if (Number.isInteger(n)) return intFmt.format(n);
  const abs = Math.abs(n);
  // Small values keep significant digits instead of collapsing to 0.
  const d = abs !== 0 && abs < 1 ? Math.max(digits, Math.min(6, 1 - Math.floor(Math.log10(abs)) + 1)) : digits;
  return new Intl.NumberFormat("en-US", { maximumFractionDigits: d }).format(n);
}

/** A share (0..1) as a percentage: 0.1234 -> "12.3%"; tiny non-zero shares keep a digit. */
export function fmtPct(share: number | null | undefined, digits = 1): string {
  if (!isNum(share)) return NONE;
  const pct = share * 100;
  if (pct !== 0 && Math.abs(pct) < 0.1) return `${fmtNum(pct, digits + 2)}%`;
  return `${pct.toFixed(digits)}%`;
}

/** Part of a whole as "(12.3%)", or "" when the whole is zero. */
export function ofTotal(part: number, whole: number): string {
  return whole > 0 && isNum(part) ? fmtPct(part / whole) : NONE;
}

/** 1234567 -> "1.2 M"; below ten thousand the plain integer. */
export function fmtCompact(n: number): string {
  if (!isNum(n)) return NONE;
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${(n / 1e9).toFixed(abs >= 1e10 ? 0 : 1)} B`;
  if (abs >= 1e6) return `${(n / 1e6).toFixed(abs >= 1e7 ? 0 : 1)} M`;
  if (abs >= 1e4) return `${(n / 1e3).toFixed(abs >= 1e5 ? 0 : 1)} k`;
  return fmtInt(n);
}

/** Seconds -> "1h 02m", "3m 05s", "12s", "0.4s". */
export function fmtDuration(seconds: number): string {
  if (!isNum(seconds) || seconds < 0) return "?";
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m ${String(sec).padStart(2, "0")}s`;
  return `${sec}s`;
}

/** Bytes -> "1.5 GB". */
export function fmtBytes(bytes: number): string {
  if (!isNum(bytes)) return NONE;
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = bytes;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}

export type Align = "left" | "right";

/**
 * An aligned text table. Columns whose header is listed in `align` as right (or, by default,
 * every column but the first) are right-aligned, which suits numbers.
 */
export function table(header: string[], rows: string[][], opts: { indent?: string; align?: Align[] } = {}): string {
  const indent = opts.indent ?? "  ";
  const align = opts.align ?? header.map((_, i) => (i === 0 ? "left" : "right"));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    indent +
    cells
      .map((c, i) => (align[i] === "right" ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  const rule = indent + widths.map((w) => "-".repeat(w)).join("  ");
  return [line(header), rule, ...rows.map((r) => line(header.map((_, i) => r[i] ?? "")))].join("\n");
}

/** Label/value pairs, labels padded so values line up. */
export function pairs(rows: [string, string][], indent = "  "): string {
  const w = Math.max(0, ...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${indent}${k.padEnd(w)}  ${v}`).join("\n");
}

const FIRST_SANCTIONS = ["flights", "trains"];

/** Sanction names in display order: flights and trains first, then as given. */
export function orderSanctions(names: string[]): string[] {
  const first = FIRST_SANCTIONS.filter((s) => names.includes(s));
  return [...first, ...names.filter((s) => !FIRST_SANCTIONS.includes(s))];
}

/** Target "value ± tolerance": tolerance is relative, shown as a percentage. */
export function fmtTarget(t: TargetResult): string {
  return `${fmtNum(t.target, 4)} ± ${fmtPct(t.tolerance, 0)}`;
}

export function renderTargets(targets: TargetResult[]): string {
  const rows = targets.map((t) => [t.metric, fmtTarget(t), t.simulated === null ? "n/a" : fmtNum(t.simulated, 4), t.pass ? "PASS" : "FAIL"]);
  return table(["metric", "target", "simulated", "result"], rows, { align: ["left", "right", "right", "left"] });
}

/**
 * The readable run summary (everything `credence run` prints before the targets). With the
 * scenario, rows that cannot apply (a sanction no list imposes and nobody met, appeals that
 * are switched off) are left out or said to be off.
 */
export function renderSummary(s: Summary, stats: RunStats | undefined, scenario?: Scenario): string {
  const out: string[] = [];
  const n = s.population;
  const perThousand = (v: number) => (n > 0 ? fmtNum((v / n) * 1000, 2) : NONE);
  const imposed = new Set<string>(scenario ? scenario.lists.flatMap((l) => [...l.sanctions, ...l.privileges]) : []);
  const relevant = (k: string, v: number) => !scenario || imposed.has(k) || (isNum(v) && v !== 0);

  out.push(`Scenario ${s.scenario}: ${fmtInt(n)} synthetic citizens${n >= 100_000 ? ` (${fmtCompact(n)})` : ""}, ${fmtInt(s.days)} days, ${s.startDate} to ${s.endDate}, seed ${s.seed}`);
  if (stats) {
    out.push(
      `Simulated in ${fmtDuration(stats.simulateSeconds)} (${fmtDuration(stats.wallSeconds)} in all)` +
        `${stats.threads > 1 ? ` on ${stats.threads} threads` : ""}, ` +
        `${fmtInt(stats.agentDaysPerSecond)} agent-days/s, ${fmtInt(stats.eventsPerSecond)} observations/s, ` +
        `peak memory ${fmtBytes(stats.peakRssBytes)}`,
    );
  }

  out.push("", "Lists");
  if (s.lists.length === 0) out.push("  (no lists in this scenario)");
  else {
    out.push(
      table(
        ["list", "kind", "on list at end", "wrongly", "wrongly %", "via association", "listings made", "people ever listed", "listings ended"],
        s.lists.map((l) => [
          l.id,
          l.kind === "black" ? "blacklist" : "redlist",
          fmtInt(l.onListEnd),
          fmtInt(l.wrongfulEnd),
          ofTotal(l.wrongfulEnd, l.onListEnd),
          fmtInt(l.viaAssociationEnd),
          fmtInt(l.entries),
          fmtInt(l.everListed),
          fmtInt(l.exits),
        ]),
        { align: ["left", "left", "right", "right", "right", "right", "right", "right", "right"] },
      ),
    );
  }

  const blockedNames = orderSanctions(Object.keys(s.blocked ?? {}).filter((k) => relevant(k, s.blocked[k])));
  out.push("", "Blocked attempts by sanction");
  if (blockedNames.length === 0) out.push("  (no list imposes sanctions)");
  else out.push(table(["sanction", "blocked", "per 1,000 people"], blockedNames.map((k) => [k, fmtInt(s.blocked[k]), perThousand(s.blocked[k])])));

  const grantedNames = Object.keys(s.granted ?? {}).filter((k) => relevant(k, s.granted[k]));
  if (grantedNames.length) {
    out.push("", "Privileges granted");
    out.push(table(["privilege", "granted", "per 1,000 people"], grantedNames.map((k) => [k, fmtInt(s.granted[k]), perThousand(s.granted[k])])));
  }

  const a = s.appeals;
  out.push("", "Appeals");
  const appealsOff = scenario && !(scenario.appeals.enabled && scenario.mechanisms.appeals);
  if (appealsOff && a.filed === 0) out.push("  (appeals are off in this scenario)");
  else out.push(
    pairs([
      ["filed", fmtInt(a.filed)],
      ["decided", fmtInt(a.decided)],
      ["won", `${fmtInt(a.won)} (${ofTotal(a.won, a.decided)} of decided)`],
      ["won by the wrongly listed", `${fmtInt(a.wonWrongful)} (${ofTotal(a.wonWrongful, a.won)} of wins)`],
      ["queued at end", fmtInt(a.queuedEnd)],
    ]),
  );

  const as = s.association;
  const o = s.observations;
  const obsTotal = o.true + o.misattributed + o.invented;
  out.push("", "Association, chilling, ties");
  out.push(
    pairs([
      ["association charges", fmtInt(as.charges)],
      ["association points", fmtNum(as.points, 1)],
      ["share of penalty points", fmtPct(as.shareOfPenaltyPoints)],
      ["chilling (speech not said)", fmtPct(s.chilling)],
      ["silenced by bans", fmtPct(s.metrics.silenced ?? null)],
      ["ties dropped", fmtInt(s.tiesDropped)],
      ["isolation of the listed", `${fmtPct(s.isolationOfListed)} of their initial ties lost`],
    ]),
  );

  out.push("", "Acts and observations");
  out.push(
    table(
      ["", "count", "share"],
      [
        ["acts really done", fmtInt(s.acts), ""],
        ["observations, true", fmtInt(o.true), ofTotal(o.true, obsTotal)],
        ["observations, misattributed", fmtInt(o.misattributed), ofTotal(o.misattributed, obsTotal)],
        ["observations, invented", fmtInt(o.invented), ofTotal(o.invented, obsTotal)],
      ],
    ),
  );

  out.push("", "Informants");
  out.push(
    pairs([
      ["rewards paid", fmtInt(s.informants.rewardsPaid)],
      ["false reports", fmtInt(s.informants.falseReports)],
    ]),
  );

  // A status nobody has at the end has no mean income (the summary may hold 0 for it).
  const mi = s.meanIncome;
  const onEnd = (kind: "black" | "red") => s.lists.filter((l) => l.kind === kind).reduce((acc, l) => acc + l.onListEnd, 0);
  const black = onEnd("black") > 0 ? mi.blacklisted : null;
  const red = onEnd("red") > 0 ? mi.redlisted : null;
  const rel = (v: number | null) => (isNum(v) && isNum(mi.unlisted) && mi.unlisted > 0 ? `${fmtPct(v / mi.unlisted - 1)} vs unlisted` : "");
  out.push("", "Mean daily income by status at the end");
  out.push(
    table(
      ["status", "mean income", ""],
      [
        ["blacklisted", isNum(black) ? fmtNum(black, 1) : `${NONE} (nobody)`, rel(black)],
        ["unlisted", isNum(mi.unlisted) ? fmtNum(mi.unlisted, 1) : `${NONE} (nobody)`, ""],
        ["redlisted", isNum(red) ? fmtNum(red, 1) : `${NONE} (nobody)`, rel(red)],
      ],
    ),
  );
  return out.join("\n");
}
