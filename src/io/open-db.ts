// Opening a run's or an experiment's database to read it, when the file may not be ours: a
// run folder can be copied from anywhere, and DuckDB will run whatever a view says (a view
// over read_csv('/etc/passwd') serves that file as a table). So every such file is opened
// read-only with no access outside it (no files, no network, no extensions, settings locked),
// and refused unless its catalogue is exactly what Credence writes: the same tables, each
// with the same columns and types, and nothing else (no views, macros, sequences, indexes,
// types, schemas or column defaults).
//
// "What Credence writes" is not a hand-kept list: it is read from a database the writer itself
// (writeTables) makes from a tiny run of the same scenario, or from the experiment's table
// builder, so the check follows the writer as it changes. Comments on tables and columns are
// not compared (they are descriptions, not structure).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openDatabase, writeTables, type ReadOnlyDatabase } from "./duckdb.js";
import { DATABASE_FILE, readManifest, scenarioHash, type Manifest } from "./run-folder.js";
import type { Table } from "./table.js";
import { simulate } from "../model/simulate.js";
import { buildTables as experimentTables, columnMap, EXPERIMENT_DB, type ExperimentManifest } from "../experiment/results.js";
import type { Plan } from "../experiment/points.js";
import { parseScenario, ScenarioError } from "../scenario/load.js";

/** DuckDB settings for a file that is not trusted: nothing outside it, and no way to undo that. */
export const UNTRUSTED_FILE_SETTINGS: Record<string, string> = {
  enable_external_access: "false",
  autoload_known_extensions: "false",
  autoinstall_known_extensions: "false",
  lock_configuration: "true",
};

/** A database whose catalogue is not what Credence writes (or that could not be checked). */
export class ForeignDatabaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ForeignDatabaseError";
  }
}

/** A table as its columns: `name TYPE`, in order. */
type Catalogue = Map<string, string[]>;

/** Anything in the file but tables: kind and name. */
interface Extra {
  kind: string;
  name: string;
}

const shown = (name: unknown) => JSON.stringify(String(name).slice(0, 80));

async function readCatalogue(db: ReadOnlyDatabase): Promise<{ tables: Catalogue; extras: Extra[] }> {
  const here = "database_name = current_database()";
  const extras = (await db.query(
    `SELECT 'view' AS kind, view_name AS name FROM duckdb_views() WHERE ${here} AND NOT internal
     UNION ALL SELECT 'macro', function_name FROM duckdb_functions() WHERE ${here} AND NOT internal
     UNION ALL SELECT 'sequence', sequence_name FROM duckdb_sequences() WHERE ${here}
     UNION ALL SELECT 'index', index_name FROM duckdb_indexes() WHERE ${here}
     UNION ALL SELECT 'type', type_name FROM duckdb_types() WHERE ${here} AND NOT internal
     UNION ALL SELECT 'schema', schema_name FROM duckdb_schemas() WHERE ${here} AND NOT internal AND schema_name <> 'main'
     UNION ALL SELECT 'table outside the main schema', schema_name || '.' || table_name FROM duckdb_tables() WHERE ${here} AND schema_name <> 'main'
     UNION ALL SELECT 'column with a default or generated value', table_name || '.' || column_name FROM duckdb_columns() WHERE ${here} AND column_default IS NOT NULL`,
  )).map((r) => ({ kind: String(r.kind), name: String(r.name) }));
  const tables: Catalogue = new Map();
  for (const t of await db.query(`SELECT table_name FROM duckdb_tables() WHERE ${here} AND schema_name = 'main' ORDER BY table_name`)) {
    tables.set(String(t.table_name).toLowerCase(), []);
  }
  const columns = await db.query(
    `SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE ${here} AND schema_name = 'main' ORDER BY table_name, column_index`,
  );
  for (const c of columns) tables.get(String(c.table_name).toLowerCase())?.push(`${c.column_name} ${c.data_type}`);
  return { tables, extras };
}

/**
 * Throws a ForeignDatabaseError naming the first difference between the catalogue `found` in
 * `label` and the one Credence writes. `flexibleType(table, column)` may accept another type.
 */
function compareCatalogue(
  label: string,
  found: { tables: Catalogue; extras: Extra[] },
  expected: Catalogue,
  flexibleType: (column: string, found: string) => boolean = () => false,
): void {
  const extra = found.extras[0];
  if (extra) {
    throw new ForeignDatabaseError(
      extra.kind === "view" && expected.has(extra.name.toLowerCase())
        ? `${label}: ${shown(extra.name)} is a view, not a table Credence writes`
        : `${label}: holds a ${extra.kind} ${shown(extra.name)}; Credence writes only tables`,
    );
  }
  for (const name of found.tables.keys()) {
    if (!expected.has(name)) throw new ForeignDatabaseError(`${label}: table ${shown(name)} is not one Credence writes`);
  }
  for (const [name, columns] of expected) {
    const got = found.tables.get(name);
    if (!got) throw new ForeignDatabaseError(`${label}: table ${shown(name)} is missing`);
    for (let i = 0; i < Math.max(got.length, columns.length); i++) {
      if (got[i] === columns[i] || (got[i] && columns[i] && flexibleType(columns[i], got[i]))) continue;
      throw new ForeignDatabaseError(
        got[i] === undefined ? `${label}: table ${shown(name)} has no column ${columns[i].split(" ")[0]} (Credence writes ${columns[i]})`
          : columns[i] === undefined ? `${label}: table ${shown(name)} has a column ${shown(got[i])} that Credence does not write`
          : `${label}: column ${i + 1} of table ${shown(name)} is ${shown(got[i])}, where Credence writes ${columns[i]}`,
      );
    }
  }
}

/** The catalogue writeTables gives `tables` (written to a scratch file, read back, removed). */
async function writtenCatalogue(tables: Table[]): Promise<Catalogue> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "credence-catalogue-"));
  try {
    const file = path.join(dir, "expected.duckdb");
    await writeTables(file, tables);
    const db = await openDatabase(file, UNTRUSTED_FILE_SETTINGS);
    try {
      return (await readCatalogue(db)).tables;
    } finally {
      db.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Expected catalogues of run databases by scenario hash (a scenario's layout never changes). */
const runCatalogues = new Map<string, Promise<Catalogue>>();

/**
 * The catalogue of run.duckdb for the run's scenario. The tables' columns depend on the scenario
 * (lists, sanctions, mechanisms), not on its size, so a run of 200 citizens for a day has them.
 */
function runCatalogue(manifest: Manifest): Promise<Catalogue> {
  let scenario;
  try {
    scenario = parseScenario(manifest.scenario, "manifest.json");
  } catch (e) {
    const why = e instanceof ScenarioError ? `${e.problems.length} problem(s), first at ${e.problems[0]?.path || "(root)"}` : "unreadable";
    throw new ForeignDatabaseError(`manifest.json: its scenario is not one Credence can run (${why})`);
  }
  const key = scenarioHash(scenario);
  let expected = runCatalogues.get(key);
  if (!expected) {
    let tables: Table[];
    try {
      tables = simulate(scenario, { seed: 1, population: 200, days: 1, threads: 1 }).tables;
    } catch (e) {
      throw new ForeignDatabaseError(`manifest.json: its scenario does not run (${(e as Error).message.split("\n")[0].slice(0, 200)})`);
    }
    expected = writtenCatalogue(tables);
    expected.catch(() => runCatalogues.delete(key)); // a failure to write the scratch file is not remembered
    runCatalogues.set(key, expected);
    if (runCatalogues.size > 64) runCatalogues.delete(runCatalogues.keys().next().value!);
  }
  return expected;
}

/** Opens `dbPath` with UNTRUSTED_FILE_SETTINGS after checking it is a regular file (not a link). */
async function openUntrusted(dbPath: string, label: string): Promise<ReadOnlyDatabase> {
  const st = fs.lstatSync(dbPath, { throwIfNoEntry: false });
  if (!st) throw new ForeignDatabaseError(`${label} is missing`);
  if (!st.isFile()) throw new ForeignDatabaseError(`${label} is ${st.isSymbolicLink() ? "a symbolic link" : "not a regular file"}; Credence writes a file`);
  try {
    return await openDatabase(dbPath, UNTRUSTED_FILE_SETTINGS);
  } catch (e) {
    throw new ForeignDatabaseError(`${label} is not a DuckDB database Credence can read: ${(e as Error).message.split("\n")[0]}`);
  }
}

/** Opens untrusted `dbPath`, checks it against `expected`, and closes it again if it does not match. */
async function openChecked(
  dbPath: string,
  label: string,
  expected: Promise<Catalogue>,
  flexibleType?: (column: string, found: string) => boolean,
): Promise<ReadOnlyDatabase> {
  const want = await expected;
  const db = await openUntrusted(dbPath, label);
  try {
    compareCatalogue(label, await readCatalogue(db), want, flexibleType);
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

/**
 * Opens the run.duckdb of run folder `runDir` to read it, refusing one Credence did not write
 * (a ForeignDatabaseError that names the difference). `manifest` defaults to the folder's own,
 * which must be complete.
 */
export async function openRunDatabase(runDir: string, manifest: Manifest = readManifest(runDir)): Promise<ReadOnlyDatabase> {
  return openChecked(path.join(runDir, DATABASE_FILE), DATABASE_FILE, runCatalogue(manifest));
}

/** Like queryRows (io/duckdb.ts) for the run.duckdb at `dbPath`: checked, queried once, closed. */
export async function queryRunRows(dbPath: string, sql: string, params?: unknown[]): Promise<Record<string, unknown>[]> {
  const db = await openRunDatabase(path.dirname(dbPath), readManifest(path.dirname(dbPath), { allowIncomplete: true }));
  try {
    return await db.query(sql, params);
  } finally {
    db.close();
  }
}

/**
 * Opens the experiment.duckdb of experiment folder `dir` (whose manifest is `manifest`) to read
 * it, refusing one Credence did not write. A parameter column is a number, a switch or text
 * depending on the values swept, so any of those three types is accepted for it.
 */
export async function openExperimentDatabase(dir: string, manifest: ExperimentManifest): Promise<ReadOnlyDatabase> {
  const plan = {
    experiment: { parameters: manifest.parameters.map((p) => ({ path: String(p.path) })), metrics: manifest.metrics.map((m) => String(m.key)) },
    points: [],
  } as unknown as Plan;
  const parameterColumns = new Set(columnMap(plan).parameters.map((p) => p.column));
  const flexibleType = (column: string, found: string) => {
    const [name, type] = found.split(" ");
    return column.split(" ")[0] === name && parameterColumns.has(name) && ["DOUBLE", "BOOLEAN", "VARCHAR"].includes(type);
  };
  return openChecked(path.join(dir, EXPERIMENT_DB), EXPERIMENT_DB, writtenCatalogue(experimentTables(plan, [])), flexibleType);
}
