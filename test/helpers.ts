// Test helpers: a small, valid scenario with overrides, and readers for result tables.
import assert from "node:assert/strict";
import { parseScenario, ScenarioError } from "../src/scenario/load.js";
import type { Scenario } from "../src/scenario/schema.js";
import type { RunResult } from "../src/model/result.js";
import { cellValue, type Column, type Table } from "../src/io/table.js";

/** Overrides: objects merge key by key; arrays and scalars replace; `undefined` deletes the key. */
export type Overrides = { [key: string]: unknown };

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

export function deepMerge<T>(base: T, over: unknown): T {
  if (!isPlainObject(base) || !isPlainObject(over)) return (over === undefined ? base : structuredClone(over)) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) delete out[k];
    else out[k] = k in out ? deepMerge(out[k], v) : structuredClone(v);
  }
  return out as T;
}

/**
 * The raw input of the minimal scenario (before validation). Three regions; behaviours of every
 * class observed by every channel; a score blacklist, an act blacklist and a score redlist.
 */
export function baseInput(): Record<string, unknown> {
  return {
    name: "test-minimal",
    title: "Minimal test scenario",
    days: 60,
    population: {
      size: 5_000,
      regions: [
        { name: "North", weight: 2, urbanShare: 0.7 },
        { name: "South", weight: 1, urbanShare: 0.4 },
        { name: "West", weight: 1, urbanShare: 0.2 },
      ],
      groups: [{ id: "minority", share: 0.1, watchMultiplier: 2, falseMatchMultiplier: 10 }],
    },
    behaviours: [
      { id: "jaywalking", class: "public", ratePerYear: 4, points: -5, observedBy: ["cameras", "informants"] },
      { id: "late-payment", class: "financial", ratePerYear: 2, points: -10, observedBy: ["records"] },
      { id: "court-default", class: "financial", ratePerYear: 0.2, points: -50, observedBy: ["records"] },
      { id: "rumours", class: "speech", ratePerYear: 2, points: -20, observedBy: ["online", "informants"] },
      { id: "cheating", class: "misconduct", ratePerYear: 0.5, points: -30, observedBy: ["records", "informants"] },
      { id: "inattention", class: "misconduct", ratePerYear: 0, points: -10, observedBy: ["attention"] },
      { id: "volunteering", class: "civic", ratePerYear: 3, points: 10, observedBy: ["records"] },
    ],
    observation: {
      attention: { enabled: true, behaviour: "inattention", memberShare: 0.1, sessionsPerYear: 24 },
    },
    scoring: {
      initial: 1000, min: 0, max: 1300,
      grades: [{ name: "A", min: 1050 }, { name: "B", min: 950 }, { name: "C", min: 850 }, { name: "D", min: 0 }],
    },
    lists: [
      { id: "low-score", kind: "black", entry: { scoreBelow: 950 }, published: true, sanctions: ["flights", "trains", "jobs"] },
      { id: "debtors", kind: "black", entry: { acts: ["court-default"] }, sanctions: ["flights", "hotels"] },
      { id: "honour", kind: "red", entry: { scoreAtLeast: 1030 }, privileges: ["deposit-waiver", "transit-discount"] },
    ],
    metrics: { trailSample: 20_000, distributionEveryDays: 10 },
  };
}

/** The minimal scenario with overrides, validated and defaulted by parseScenario. */
export function makeScenario(overrides: Overrides = {}): Scenario {
  return parseScenario(deepMerge(baseInput(), overrides), "test scenario");
}

export function table(result: RunResult, name: string): Table {
  const t = result.tables.find((x) => x.name === name);
  if (!t) throw new Error(`no table ${name} (have ${result.tables.map((x) => x.name).join(", ")})`);
  return t;
}

export function columnOf(result: RunResult, tableName: string, columnName: string): Column {
  const t = table(result, tableName);
  // Metric columns are named for SQL (a list id `low-score` gives `wrongful_low_score`).
  const c = t.columns.find((x) => x.name === columnName) ?? t.columns.find((x) => x.name === columnName.replace(/[^A-Za-z0-9_]/g, "_"));
  if (!c) throw new Error(`no column ${tableName}.${columnName} (have ${t.columns.map((x) => x.name).join(", ")})`);
  return c;
}

/** The raw data of a column, cut to the table's rows (growable buffers hold more). */
export function column(result: RunResult, tableName: string, columnName: string): ArrayLike<number> & Iterable<number> {
  const t = table(result, tableName);
  const c = columnOf(result, tableName, columnName);
  const d = c.data as ArrayLike<unknown>;
  if (ArrayBuffer.isView(d)) return (d as unknown as Float64Array).subarray(0, t.rows);
  return Array.from({ length: t.rows }, (_, r) => Number((d as ArrayLike<unknown>)[r]));
}

/** Values of a column as plain JS values: codes resolved to labels, null where the cell is NULL. */
export function values(result: RunResult, tableName: string, columnName: string): (number | string | boolean | null)[] {
  const t = table(result, tableName);
  const c = columnOf(result, tableName, columnName);
  return Array.from({ length: t.rows }, (_, r) => cellValue(c, r));
}

/** Rows of a table as objects (labels resolved). For small tables only. */
export function rows(result: RunResult, tableName: string): Record<string, number | string | boolean | null>[] {
  const t = table(result, tableName);
  return Array.from({ length: t.rows }, (_, r) => Object.fromEntries(t.columns.map((c) => [c.name, cellValue(c, r)])));
}

/** Sum of a column. */
export function sum(xs: Iterable<number>): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}

/** Count of trail rows matching the given labels (e.g. { event: "observed", channel: "cameras", kind: "true" }). */
export function countTrail(result: RunResult, match: Record<string, string>): number {
  const t = table(result, "trail");
  const cols = Object.entries(match).map(([name, label]) => {
    const c = columnOf(result, "trail", name);
    if (c.type !== "CODE") throw new Error(`trail.${name} is not a code column`);
    const code = c.labels.indexOf(label);
    if (code < 0) throw new Error(`trail.${name} has no label ${label}`);
    return { data: c.data, code };
  });
  let n = 0;
  for (let r = 0; r < t.rows; r++) if (cols.every((c) => c.data[r] === c.code)) n++;
  return n;
}

/** An error-free observation setting (every channel's false rate zero). */
export const ERROR_FREE: Overrides = {
  observation: {
    cameras: { falseMatchRate: 0, phantomPerYear: 0 },
    records: { clericalErrorRate: 0 },
    online: { falsePositivePerYear: 0 },
    informants: { falseReportsPerYear: 0 },
    attention: { accuracy: 1 },
  },
};

/** Element-wise comparison of two tables (NaN equals NaN). Returns the first difference or null. */
export function tableDifference(a: Table, b: Table): string | null {
  if (a.name !== b.name) return `table ${a.name} vs ${b.name}`;
  if (a.rows !== b.rows) return `${a.name}: ${a.rows} rows vs ${b.rows}`;
  if (a.columns.length !== b.columns.length) return `${a.name}: column count`;
  for (let k = 0; k < a.columns.length; k++) {
    const ca = a.columns[k], cb = b.columns[k];
    if (ca.name !== cb.name || ca.type !== cb.type) return `${a.name}: column ${ca.name} vs ${cb.name}`;
    const da = ca.data as ArrayLike<unknown>, db = cb.data as ArrayLike<unknown>;
    for (let r = 0; r < a.rows; r++) {
      if (!Object.is(da[r], db[r])) return `${a.name}.${ca.name}[${r}]: ${String(da[r])} vs ${String(db[r])}`;
    }
  }
  return null;
}

/** The problems of the ScenarioError that f throws (fails if it throws none). */
export function problemsOf(f: () => unknown): { path: string; found: string; expected: string }[] {
  try {
    f();
  } catch (e) {
    if (e instanceof ScenarioError) return e.problems;
    throw e;
  }
  assert.fail("expected a ScenarioError");
}

/** The first difference between two runs (summary, then every table cell; NaN equals NaN), or null. */
export function difference(a: RunResult, b: RunResult): string | null {
  if (JSON.stringify(a.summary) !== JSON.stringify(b.summary)) return "summary differs";
  if (a.tables.length !== b.tables.length) return "table count differs";
  for (let t = 0; t < a.tables.length; t++) {
    const x = a.tables[t], y = b.tables[t];
    if (x.name !== y.name || x.rows !== y.rows) return `${x.name}: ${x.rows} rows vs ${y.name}: ${y.rows}`;
    for (let k = 0; k < x.columns.length; k++) {
      const cx = x.columns[k].data as ArrayLike<unknown>, cy = y.columns[k].data as ArrayLike<unknown>;
      for (let r = 0; r < x.rows; r++) if (!Object.is(cx[r], cy[r])) return `${x.name}.${x.columns[k].name}[${r}]: ${String(cx[r])} vs ${String(cy[r])}`;
    }
  }
  return null;
}

