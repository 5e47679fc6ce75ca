// The experiment folder's tables: a row per point-replicate, a row per point, and per-point
// means with 95% t-intervals over the replicates; written as experiment.duckdb (under a
// temporary name, then renamed into place) and as Parquet files, with a manifest whose status
// is "complete" only once every point-replicate is in and everything is written.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { writeParquet, writeTables } from "../io/duckdb.js";
import type { Column, Table } from "../io/table.js";
import type { Plan } from "./points.js";
import type { ParamValue } from "./spec.js";
import type { ResultLog, TaskResult } from "./store.js";
import { writeFileAtomic } from "../io/atomic.js";
import { meanInterval, tQuantile, type Interval } from "../analysis/stats.js";
export { meanInterval, tQuantile, type Interval };

export const EXPERIMENT_DB = "experiment.duckdb";
export const EXPERIMENT_MANIFEST = "manifest.json";
export const PARQUET_DIR = "parquet";

// ---------------------------------------------------------------------------------------------
// Statistics

// ---------------------------------------------------------------------------------------------
// Tables

/** A SQL-friendly column name: `wrongful_share.low-score` -> `wrongful_share_low_score`. */
export const columnName = (key: string): string => key.replace(/[^A-Za-z0-9_]+/g, "_").replace(/^(\d)/, "_$1");

export interface ColumnMap {
  parameters: { path: string; column: string }[];
  metrics: { key: string; column: string }[];
}

export function columnMap(plan: Plan): ColumnMap {
  const used = new Set(["point", "replicate", "seed", "seconds", "worker", "replicates", "metric", "n", "mean", "sd", "ci_low", "ci_high"]);
  const unique = (key: string) => {
    let c = columnName(key);
    while (used.has(c.toLowerCase())) c += "_";
    used.add(c.toLowerCase());
    return c;
  };
  return {
    parameters: plan.experiment.parameters.map((p) => ({ path: p.path, column: unique(p.path) })),
    metrics: plan.experiment.metrics.map((key) => ({ key, column: unique(key) })),
  };
}

/** One column per parameter: numbers as DOUBLE, switches as BOOLEAN, anything else as text. */
function parameterColumns(plan: Plan, map: ColumnMap, pointOfRow: number[]): Column[] {
  return map.parameters.map(({ path, column }) => {
    const vals: ParamValue[] = pointOfRow.map((p) => plan.points[p].values[path]);
    const description = `Value of the scenario field ${path}`;
    if (vals.every((v) => typeof v === "number")) return { name: column, description, type: "DOUBLE", data: vals as number[] };
    if (vals.every((v) => typeof v === "boolean")) return { name: column, description, type: "BOOLEAN", data: vals as boolean[] };
    return { name: column, description, type: "VARCHAR", data: vals.map(String) };
  });
}

/** The finished results of the plan's tasks, in task order. */
export function finishedResults(plan: Plan, log: Pick<ResultLog, "get">): TaskResult[] {
  return plan.tasks.map((t) => log.get(t.id)).filter((r): r is TaskResult => r !== undefined);
}

export function buildTables(plan: Plan, results: TaskResult[]): Table[] {
  const map = columnMap(plan);
  const num = (v: number | null | undefined) => (v === null || v === undefined ? NaN : v);

  const runs: Table = {
    name: "runs",
    description: "One row per finished point-replicate (one simulation): the point's parameters, the seed and each kept metric",
    rows: results.length,
    columns: [
      { name: "point", description: "Point number (0-based, in the order the design generates them)", type: "INTEGER", data: results.map((r) => r.point) },
      { name: "replicate", description: "Replicate number (0-based)", type: "INTEGER", data: results.map((r) => r.replicate) },
      { name: "seed", description: "Seed of the simulation (the experiment's seed + replicate)", type: "BIGINT", data: results.map((r) => r.seed) },
      ...parameterColumns(plan, map, results.map((r) => r.point)),
      ...map.metrics.map(({ key, column }): Column => ({ name: column, description: `Summary metric ${key} of the run`, type: "DOUBLE", data: results.map((r) => num(r.metrics[key])) })),
      { name: "seconds", description: "Wall seconds the simulation took", type: "DOUBLE", data: results.map((r) => r.seconds) },
      { name: "worker", description: 'Who ran it: "local" or the queue worker (host:pid)', type: "VARCHAR", data: results.map((r) => r.by) },
    ],
  };

  const byPoint = plan.points.map(() => [] as TaskResult[]);
  for (const r of results) byPoint[r.point].push(r);
  const pointIdx = plan.points.map((p) => p.index);
  const points: Table = {
    name: "points",
    description: "One row per point of the design: its parameter values and how many replicates finished",
    rows: plan.points.length,
    columns: [
      { name: "point", description: "Point number", type: "INTEGER", data: pointIdx },
      ...parameterColumns(plan, map, pointIdx),
      { name: "replicates", description: "Replicates finished for this point", type: "INTEGER", data: byPoint.map((b) => b.length) },
    ],
  };

  const sPoint: number[] = [], sMetric: string[] = [], n: number[] = [], mean: number[] = [], sd: number[] = [], lo: number[] = [], hi: number[] = [];
  plan.points.forEach((p, i) => {
    for (const { key } of map.metrics) {
      const iv = meanInterval(byPoint[i].map((r) => r.metrics[key]).filter((v): v is number => typeof v === "number"));
      sPoint.push(p.index); sMetric.push(key); n.push(iv.n); mean.push(iv.mean); sd.push(iv.sd); lo.push(iv.low); hi.push(iv.high);
    }
  });
  const summary: Table = {
    name: "summary",
    description: "One row per point and metric: the mean over replicates with its 95% t-interval",
    rows: sPoint.length,
    columns: [
      { name: "point", description: "Point number", type: "INTEGER", data: sPoint },
      ...parameterColumns(plan, map, sPoint),
      { name: "metric", description: "Summary metric key (as in the experiment file)", type: "VARCHAR", data: sMetric },
      { name: "n", description: "Replicates with a value", type: "INTEGER", data: n },
      { name: "mean", description: "Mean over replicates", type: "DOUBLE", data: mean },
      { name: "sd", description: "Standard deviation over replicates (NULL with one replicate)", type: "DOUBLE", data: sd },
      { name: "ci_low", description: "Lower end of the 95% t-interval for the mean (NULL with one replicate)", type: "DOUBLE", data: lo },
      { name: "ci_high", description: "Upper end of the 95% t-interval for the mean (NULL with one replicate)", type: "DOUBLE", data: hi },
    ],
  };
  return [runs, points, summary];
}

// ---------------------------------------------------------------------------------------------
// The folder

export interface ExperimentManifest {
  /** Always true, with `note` saying it in words (SYNTHETIC_STATEMENT): the runs' citizens are generated. */
  synthetic: true;
  note: string;
  status: "complete" | "incomplete";
  reason?: string;
  name: string;
  title: string;
  experimentFile: string;
  scenarioFile: string;
  scenario: string;
  version: string;
  population: number;
  days: number;
  replicates: number;
  seed: number;
  design: Plan["experiment"]["design"];
  parameters: { path: string; column: string; label?: string }[];
  metrics: { key: string; column: string; label?: string }[];
  points: number;
  tasks: number;
  finished: number;
  failed: { point: number; replicate: number; seed: number; reason: string }[];
  /** Simulations run by the latest sweep command (the rest were already in results.jsonl). */
  ranThisTime: number;
  mode: "local" | "queue";
  createdAt: string;
  updatedAt: string;
  /** Wall seconds of the latest sweep command. */
  wallSeconds: number;
  /** Table name -> rows. */
  tables: Record<string, number>;
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + "\n");
}

export function readExperimentManifest(dir: string): ExperimentManifest {
  const file = path.join(dir, EXPERIMENT_MANIFEST);
  if (!fs.existsSync(file)) throw new Error(`Not an experiment folder: ${dir} has no ${EXPERIMENT_MANIFEST}`);
  const m = JSON.parse(fs.readFileSync(file, "utf8")) as ExperimentManifest;
  if (!m || typeof m !== "object" || !Array.isArray(m.parameters) || !Array.isArray(m.metrics)) throw new Error(`Not an experiment folder: ${file} is not an experiment manifest`);
  return m;
}

/** Writes experiment.duckdb and parquet/ from the results, each under a temporary name renamed into place. */
export async function writeTablesAtomic(dir: string, tables: Table[]): Promise<void> {
  const suffix = `tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  const db = path.join(dir, EXPERIMENT_DB);
  const tmpDb = `${db}.${suffix}`;
  await writeTables(tmpDb, tables);
  fs.renameSync(tmpDb, db);

  const parquet = path.join(dir, PARQUET_DIR);
  const tmpParquet = `${parquet}.${suffix}`;
  try {
    await writeParquet(db, tmpParquet);
    const old = `${parquet}.old-${suffix}`;
    if (fs.existsSync(parquet)) fs.renameSync(parquet, old);
    fs.renameSync(tmpParquet, parquet);
    fs.rmSync(old, { recursive: true, force: true });
  } finally {
    fs.rmSync(tmpParquet, { recursive: true, force: true });
  }
}
