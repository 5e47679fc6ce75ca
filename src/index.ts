// Library entry point: drive the same runs as the CLI from a notebook or another program.
export { simulate, resolveScenario } from "./model/simulate.js";
export type { SimulateOptions, RunResult, Summary, RunStats, Progress, ListSummary, TargetResult } from "./model/result.js";
export { loadScenario, parseScenario, parseScenarioText, ScenarioError, type Problem } from "./scenario/load.js";
export { ScenarioSchema, type Scenario, type ScenarioInput, type TimelineEntry } from "./scenario/schema.js";
// A scenario through time: what is in force on a day, and the days it changes.
export { scenarioOn, changeDays, dayOf } from "./scenario/timeline.js";
export { writeRunFolder, readManifest, type Manifest } from "./io/run-folder.js";
// A run's whole lifecycle, as the CLI has it: memory check, checkpoints, AbortSignal, run folder.
export { run, resume, readResume, RunError, type RunOptions, type RunOutcome, type ResumeState } from "./run/run.js";
// DuckDB's readers and writers, loaded (with its native module) on their first call.
type DuckDB = typeof import("./io/duckdb.js");
const duckdb = (): Promise<DuckDB> => import("./io/duckdb.js");
export const writeTables = async (...a: Parameters<DuckDB["writeTables"]>) => (await duckdb()).writeTables(...a);
export const queryRows = async (...a: Parameters<DuckDB["queryRows"]>) => (await duckdb()).queryRows(...a);
export const writeParquet = async (...a: Parameters<DuckDB["writeParquet"]>) => (await duckdb()).writeParquet(...a);
export type { Table, Column } from "./io/table.js";
