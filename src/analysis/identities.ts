// Accounting identities a run's own output must satisfy: what docs/validation.md reports as
// reproduced without being fitted, and what test/validation.test.ts shows can fail. Each check
// reads the result tables and the summary as a user would, through the metrics' declarations,
// so a bookkeeping error anywhere between the day loop and the outputs shows up as a failure.
import type { RunResult } from "../model/result.js";
import { cellValue, type Table } from "../io/table.js";
import { columnName, type MetricSpec } from "../engine/counters.js";
import { dailyMetricSets } from "../model/regime.js";
import { isReported, listMetrics } from "../metrics/list-metrics.js";
import { OBSERVATION_METRICS } from "../model/observation.js";
import { CONSEQUENCES_METRICS } from "../model/consequences.js";
import { SANCTIONS } from "../scenario/schema.js";
import { scenariosInForce } from "../scenario/timeline.js";

export interface Identity {
  /** What must hold, in words. */
  statement: string;
  holds: boolean;
  /** The numbers it was checked with (and, when it fails, where). */
  detail: string;
}

export type RunOutput = Pick<RunResult, "scenario" | "summary" | "tables">;

const fmt = (v: number) => (Number.isInteger(v) ? v.toLocaleString("en") : Number(v.toPrecision(8)).toString());
// Sums of fractional values (points, incomes) taken in another order differ in the last bits.
const same = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

function tableOf(tables: Table[], name: string): Table {
  const t = tables.find((x) => x.name === name);
  if (!t) throw new Error(`the run has no ${name} table`);
  return t;
}

/** A metric's column, cut to the table's rows (growable buffers hold more). */
function columnOf(t: Table, spec: MetricSpec | string): number[] {
  const name = columnName(typeof spec === "string" ? spec : spec.name);
  const c = t.columns.find((x) => x.name === name);
  if (!c) throw new Error(`the ${t.name} table has no column ${name}`);
  return Array.from({ length: t.rows }, (_, r) => Number(c.data[r]));
}

const sumOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** The metrics every cell of the run counts (what daily_region sums): the regime's own list. */
const cellMetrics = (scenario: RunOutput["scenario"]): MetricSpec[] => dailyMetricSets(scenario).flatMap((set) => Object.values(set));

export function checkIdentities(run: RunOutput): Identity[] {
  const { scenario: s, summary } = run;
  const daily = tableOf(run.tables, "daily");
  const days = daily.rows;
  const dateColumn = daily.columns.find((c) => c.name === "date")!;
  const dates = Array.from({ length: days }, (_, d) => String(cellValue(dateColumn, d)));
  const out: Identity[] = [];

  if (s.mechanisms.lists) {
    const population = columnOf(daily, "population");
    // The lists with columns of their own (list_daily holds the others' rows).
    for (const list of s.lists.filter(isReported)) {
      const M = listMetrics(list.id);
      const on = columnOf(daily, M.on), entries = columnOf(daily, M.entries), exits = columnOf(daily, M.exits);
      // Each day's change in the stock is that day's entries less its exits; the lists start
      // empty, so on the run's first day the stock is its entries (after a warm-up, the first
      // reported day has no day before it in the table and is not checked).
      const warmUp = s.reportFrom !== undefined && s.reportFrom > s.startDate;
      const off = firstDay(days, (d) => (d > 0 || !warmUp) && on[d] - (d ? on[d - 1] : 0) !== entries[d] - exits[d]);
      const E = sumOf(entries), X = sumOf(exits);
      out.push({
        statement: `${list.id}: entries − exits each day = change in the number on the list${warmUp ? "" : " (from empty)"}`,
        holds: off < 0,
        detail: `over the run ${fmt(E)} − ${fmt(X)} = ${fmt(E - X)}; on the list at the end ${fmt(on[days - 1])}` +
          (off < 0 ? "" : `; first off on ${dates[off]}: ${fmt(entries[off])} − ${fmt(exits[off])} vs ${fmt(on[off] - (off ? on[off - 1] : 0))}`),
      });
      const listed = summary.lists.find((l) => l.id === list.id)!;
      out.push({
        statement: `${list.id}: the summary's entries and exits = the daily table's`,
        holds: listed.entries === E && listed.exits === X,
        detail: `summary ${fmt(listed.entries)} entries, ${fmt(listed.exits)} exits; daily ${fmt(E)}, ${fmt(X)}`,
      });
      for (const [part, spec] of [["wrongful", M.wrongful], ["via association", M.viaAssociation]] as const) {
        const of = columnOf(daily, spec);
        const bad = firstDay(days, (d) => of[d] > on[d]);
        out.push({
          statement: `${list.id}: ${part} ≤ on the list, every day`,
          holds: bad < 0,
          detail: bad >= 0 ? `on ${dates[bad]}: ${fmt(of[bad])} ${part} of ${fmt(on[bad])}`
            : of[peak(of)] === 0 ? `none ${part} on any day` : `at most ${fmt(of[peak(of)])} ${part}, of ${fmt(on[peak(of)])} on the list that day`,
        });
      }
      const errorFree = columnOf(daily, M.errorFreeOn);
      const share = summary.metrics[`error_free_listed_share.${list.id}`];
      const outside = firstDay(days, (d) => errorFree[d] < 0 || errorFree[d] > population[d]);
      out.push({
        statement: `${list.id}: error-free listed share between 0 and 1 (at the end and every day)`,
        holds: share !== null && share !== undefined && share >= 0 && share <= 1 && outside < 0,
        detail: `at the end ${share == null ? "missing" : fmt(share)}` + (outside < 0 ? "" : `; on ${dates[outside]} ${fmt(errorFree[outside])} of ${fmt(population[outside])}`),
      });
    }
  }

  // Every cell metric, flow or stock, is a sum over cells, so over regions too.
  const region = tableOf(run.tables, "daily_region");
  const regions = region.rows / days;
  const unequal: string[] = [];
  const metrics = cellMetrics(s);
  for (const name of ["population", ...metrics.map((m) => m.name)]) {
    const total = columnOf(daily, name), parts = columnOf(region, name);
    const bad = firstDay(days, (d) => {
      let sum = 0;
      for (let r = 0; r < regions; r++) sum += parts[d * regions + r];
      return !same(sum, total[d]);
    });
    if (bad >= 0) unequal.push(`${columnName(name)} on ${dates[bad]}`);
  }
  out.push({
    statement: "Each daily metric summed over the regions (daily_region) = the daily total, every day",
    holds: unequal.length === 0,
    detail: unequal.length ? `differs: ${unequal.join(", ")}` : `${metrics.length + 1} columns × ${fmt(days)} days × ${regions} regions`,
  });

  const O = OBSERVATION_METRICS;
  const kinds = { true: O.observationsTrue, misattributed: O.observationsMisattributed, invented: O.observationsInvented } as const;
  const counted = Object.fromEntries(Object.entries(kinds).map(([k, spec]) => [k, sumOf(columnOf(daily, spec))])) as Record<keyof typeof kinds, number>;
  const all = counted.true + counted.misattributed + counted.invented;
  // Per capita-year over the reported days: the daily table's rows (a warm-up is in neither).
  const reported = (summary.metrics.observations_per_capita ?? NaN) * summary.population * (days / 365);
  const kindsAgree = (Object.keys(kinds) as (keyof typeof kinds)[]).every((k) => summary.observations[k] === counted[k]);
  out.push({
    statement: "Observations true + misattributed + invented (daily table) = the observations the summary reports",
    holds: kindsAgree && same(all, reported),
    detail: `${fmt(counted.true)} + ${fmt(counted.misattributed)} + ${fmt(counted.invented)} = ${fmt(all)}; summary ${fmt(Math.round(reported))} ` +
      `(observations_per_capita × population × years)${kindsAgree ? "" : `; by kind ${fmt(summary.observations.true)}, ${fmt(summary.observations.misattributed)}, ${fmt(summary.observations.invented)}`}`,
  });

  // A sanction blocks attempts only of people on a list that carries it, on some day of the run.
  const carried = new Set(scenariosInForce(s).flatMap((x) => x.lists.flatMap((l) => l.sanctions)));
  const idle = SANCTIONS.filter((k) => !carried.has(k));
  const blocked = idle.filter((k) => sumOf(columnOf(daily, CONSEQUENCES_METRICS[`blocked_${k}`])) !== 0 || summary.blocked[k] !== 0);
  out.push({
    statement: "Blocked attempts = 0 for every sanction no list carries",
    holds: blocked.length === 0,
    detail: idle.length === 0 ? "every sanction is carried by a list"
      : `${idle.join(", ")}: ${blocked.length ? blocked.map((k) => `${k} ${fmt(summary.blocked[k])}`).join(", ") : "0 each"}`,
  });
  return out;
}

/** The day of the largest value (the first, on a tie). */
const peak = (xs: number[]) => xs.indexOf(Math.max(...xs));

/** The first day on which `bad` holds, or -1. */
function firstDay(days: number, bad: (d: number) => boolean): number {
  for (let d = 0; d < days; d++) if (bad(d)) return d;
  return -1;
}
