// Everything a report shows, gathered from a run folder: the manifest (resolved scenario,
// summary, targets, statistics), the scenario file's sources when it is still the file that
// ran, and the daily tables of run.duckdb. Every number the report prints comes from here.
import { openRunDatabase } from "../io/open-db.js";
import { readManifest, scenarioHash, type Manifest } from "../io/run-folder.js";
import { resolveScenario } from "../model/simulate.js";
import { MAX_SCENARIO_BYTES, parseScenarioText, pathString } from "../scenario/load.js";
import { readUserText } from "../io/read-file.js";
import type { Scenario } from "../scenario/schema.js";
import { fieldRows } from "../cli/schema-doc.js";
import { scenarioSources, type SourceNote } from "./sources.js";
import { chartedLists } from "../metrics/list-metrics.js";

export interface Parameter {
  path: string;
  value: unknown;
  /** The schema's default, rendered ("" when none, "required" when the field must be given). */
  default: string;
  setInFile: boolean | null;
  source: SourceNote | null;
  description: string;
}

export interface DailyRow {
  day: number;
  date: string;
  [column: string]: number | string;
}

export interface ReportData {
  runDir: string;
  manifest: Manifest;
  scenario: Scenario;
  parameters: Parameter[];
  /** Why sources could not be read from the scenario file, or null when they were. */
  sourcesNote: string | null;
  daily: DailyRow[];
  /** Last day, per group and per region. */
  byGroup: DailyRow[];
  byRegion: DailyRow[];
  /** Totals over the run from the daily table. */
  totals: Record<string, number>;
}

/** SQL column name of a metric for a list id (`low-score` -> `on_low_score`). */
export const col = (prefix: string, id: string): string => `${prefix}_${id.replace(/[^A-Za-z0-9_]/g, "_")}`;

const num = (v: unknown): number => (typeof v === "bigint" ? Number(v) : Number(v));

/** Leaves of the resolved scenario: scalars, lists of scalars, empty lists and maps. */
function leaves(v: unknown, path: (string | number)[] = [], out: [string, unknown][] = []): [string, unknown][] {
  const isObj = v !== null && typeof v === "object";
  if (!isObj || (Array.isArray(v) && v.every((x) => x === null || typeof x !== "object")) || Object.keys(v as object).length === 0) {
    out.push([pathString(path), v]);
    return out;
  }
  for (const [k, child] of Object.entries(v as object)) leaves(child, [...path, Array.isArray(v) ? Number(k) : k], out);
  return out;
}

/** `lists[2].entry.acts` -> `lists[].entry.acts`; map keys fall back to the map's own row. */
function schemaRow(rows: Map<string, { default: string; description: string }>, path: string) {
  const pattern = path.replace(/\[\d+\]/g, "[]");
  if (rows.has(pattern)) return rows.get(pattern)!;
  const parent = pattern.replace(/\.[^.[\]]+$/, "");
  return parent !== pattern && rows.has(parent) ? { default: "", description: rows.get(parent)!.description } : { default: "", description: "" };
}

function readSources(m: Manifest): { notes: Map<string, SourceNote>; setInFile: Set<string> } | string {
  if (!m.scenarioPath) return "the run does not record its scenario file";
  let text: string;
  try {
    // The path comes from the manifest: a crafted one may name a FIFO or /dev/zero.
    text = readUserText(m.scenarioPath, { maxBytes: MAX_SCENARIO_BYTES });
  } catch (e) {
    return `the scenario file ${m.scenarioPath} cannot be read (${(e as Error).message})`;
  }
  try {
    const again = resolveScenario(parseScenarioText(text, m.scenarioPath, { checkLimits: false, file: m.scenarioPath }), { population: m.population, days: m.days });
    if (scenarioHash(again) !== m.scenarioHash) return `the scenario file ${m.scenarioPath} has changed since the run`;
  } catch {
    return `the scenario file ${m.scenarioPath} no longer validates`;
  }
  return scenarioSources(text);
}

export async function loadReportData(runDir: string): Promise<ReportData> {
  const manifest = readManifest(runDir);
  const s = manifest.scenario;
  const rows = new Map(fieldRows().map((r) => [r.path, { default: r.default, description: r.description }]));
  const sources = readSources(manifest);
  // The lists a family generated are its row of listFamilies in the table, not hundreds of rows each.
  const generated = new Set(s.lists.flatMap((l, k) => (l.family ? [`lists[${k}]`] : [])));
  const parameters: Parameter[] = leaves(s).filter(([path]) => !generated.has(path.replace(/^(lists\[\d+\]).*$/, "$1"))).map(([path, value]) => {
    const row = schemaRow(rows, path);
    return {
      path, value,
      default: row.default,
      description: row.description,
      setInFile: typeof sources === "string" ? null : sources.setInFile.has(path),
      source: typeof sources === "string" ? null : sources.notes.get(path) ?? null,
    };
  });

  const listCols = chartedLists(s.lists).flatMap((l) => [col("on", l.id), col("wrongful", l.id)]);
  const metrics = ["population", ...listCols, "blacklisted", "ties_dropped", "chilling", "mean_score", "observations_true", "observations_misattributed", "observations_invented"];
  const blocked = `(${["flights", "trains", "hotels", "property", "private_schools", "jobs", "loans", "social_media", "internet", "deposits"].map((k) => `blocked_${k}`).join(" + ")})`;
  const select = [...metrics.map((c) => `"${c}"`), `${blocked} AS blocked_total`].join(", ");
  const last = `(SELECT max(day) FROM daily)`;
  const groupCols = ["population", ...listCols, "blacklisted", "ties_dropped", "mean_score"].map((c) => `"${c}"`).join(", ");
  const db = await openRunDatabase(runDir, manifest);
  try {
    const daily = (await db.query(`SELECT day, date, ${select} FROM daily ORDER BY day`)).map(normalise);
    const byGroup = (await db.query(`SELECT day, date, "group", ${groupCols} FROM daily_group WHERE day = ${last} ORDER BY "group"`)).map(normalise);
    const byRegion = (await db.query(`SELECT day, date, region, ${groupCols} FROM daily_region WHERE day = ${last} ORDER BY region`)).map(normalise);
    const [t] = await db.query(`SELECT sum(${blocked}) AS blocked_total, sum(ties_dropped) AS ties_dropped, sum(observations_true) AS observations_true, ` +
      `sum(observations_misattributed) AS observations_misattributed, sum(observations_invented) AS observations_invented FROM daily`);
    return { runDir, manifest, scenario: s, parameters, sourcesNote: typeof sources === "string" ? sources : null, daily, byGroup, byRegion, totals: Object.fromEntries(Object.entries(t).map(([k, v]) => [k, num(v)])) };
  } finally {
    db.close();
  }
}

function normalise(r: Record<string, unknown>): DailyRow {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === "string" ? v : num(v)])) as DailyRow;
}
