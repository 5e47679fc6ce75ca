// Library entry point: drive the same runs as the CLI from a notebook or another program.
export { simulate, resolveScenario } from "./engine/simulate.js";
export type { SimulateOptions, RunResult, Summary, RunStats, Progress, ListSummary, TargetResult } from "./engine/result.js";
export { loadScenario, parseScenario, parseScenarioText, ScenarioError, type Problem } from "./scenario/load.js";
export { ScenarioSchema, type Scenario, type ScenarioInput } from "./scenario/schema.js";
export { writeRunFolder, readManifest, type Manifest } from "./io/run-folder.js";
export { writeTables, queryRows, writeParquet } from "./io/duckdb.js";
export type { Table, Column } from "./io/table.js";
