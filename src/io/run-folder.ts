// A run folder: manifest.json + run.duckdb, written atomically.
//
// Everything is written into a sibling temporary folder `<outDir>.partial-<pid>-<random>`:
// first a manifest with status "incomplete" (so a crash leaves a folder that says what it
// is), then run.duckdb, then the final manifest (status "complete", renamed into place).
// Only then does the folder take the place of `<outDir>`. A previous run at `<outDir>` is
// moved aside and deleted after the swap; a folder that is not a run is never touched.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { RunResult, RunStats, Summary } from "../model/result.js";
import type { Scenario } from "../scenario/schema.js";
import { scenarioHash } from "../scenario/hash.js";
import { SYNTHETIC_STATEMENT } from "./synthetic.js";
import { readUserText } from "./read-file.js";

export const MANIFEST_FILE = "manifest.json";
export const DATABASE_FILE = "run.duckdb";
/** A manifest holds a scenario (at most 256 KB of YAML) and its summary: far less than this. */
const MAX_MANIFEST_BYTES = 16 * 2 ** 20;

/** What identifies a run, in a finished manifest and in one of a run still going (io/checkpoint-folder.ts). */
export interface RunIdentity {
  /** Scenario name. */
  name: string;
  /** The scenario as resolved (defaults filled, --population and --days applied). */
  scenario: Scenario;
  /** sha256 (hex) of the canonical JSON of `scenario`. */
  scenarioHash: string;
  scenarioPath?: string;
  seed: number;
  /** Credence version that wrote the run. */
  version: string;
  population: number;
  days: number;
  startDate: string;
  /** When writing the folder started (ISO 8601). */
  createdAt: string;
}

export interface Manifest extends RunIdentity {
  /** Always true: the population is generated from the seed, never read from people. */
  synthetic: true;
  /** The same in words (SYNTHETIC_STATEMENT), for whoever opens the file. */
  note: string;
  status: "complete" | "incomplete";
  /** Why the run is incomplete ("writing" while the folder is being written). */
  reason?: string;
  /** Simulation wall time plus the time spent writing the folder. */
  wallSeconds: number;
  /** Seconds spent writing the folder (database and manifest). */
  writeSeconds: number;
  stats: RunStats;
  summary: Summary;
  /** Table name -> rows. */
  tables: Record<string, number>;
  node: string;
  platform: string;
}

export { canonicalJson, scenarioHash } from "../scenario/hash.js";

// ---------------------------------------------------------------------------------------
// Writing

/**
 * Writes `result` as a run folder at `outDir` (manifest.json + run.duckdb), atomically:
 * `outDir` is either left as it was or replaced by a complete run. Replaces a previous run
 * folder; refuses a non-empty folder that is not a run (one without manifest.json).
 */
export async function writeRunFolder(
  result: RunResult,
  outDir: string,
  extra: { version: string; scenarioPath?: string },
): Promise<Manifest> {
  const started = performance.now();
  const target = path.resolve(outDir);
  inspectTarget(target); // refuse early, before any work
  fs.mkdirSync(path.dirname(target), { recursive: true });

  const partial = `${target}.partial-${process.pid}-${randomBytes(4).toString("hex")}`;
  fs.mkdirSync(partial);
  let manifest: Manifest;
  try {
    const scenario = result.scenario;
    manifest = {
      synthetic: true,
      note: SYNTHETIC_STATEMENT,
      status: "incomplete",
      reason: "writing",
      name: scenario.name,
      scenario,
      scenarioHash: scenarioHash(scenario),
      ...(extra.scenarioPath !== undefined ? { scenarioPath: extra.scenarioPath } : {}),
      seed: result.seed,
      version: extra.version,
      population: scenario.population.size,
      days: scenario.days,
      startDate: scenario.startDate,
      createdAt: new Date().toISOString(),
      wallSeconds: result.stats.wallSeconds,
      writeSeconds: 0,
      stats: result.stats,
      summary: result.summary,
      tables: Object.fromEntries(result.tables.map((t) => [t.name, t.rows])),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
    };
    writeJsonAtomic(path.join(partial, MANIFEST_FILE), manifest);

    // DuckDB's native module is loaded only here, when a run folder is written: a program that
    // imports the library to simulate, or to read manifests, never loads it.
    const { writeTables } = await import("./duckdb.js");
    await writeTables(path.join(partial, DATABASE_FILE), result.tables);

    const writeSeconds = (performance.now() - started) / 1000;
    const { reason: _reason, ...rest } = manifest;
    manifest = { ...rest, status: "complete", writeSeconds, wallSeconds: result.stats.wallSeconds + writeSeconds };
    writeJsonAtomic(path.join(partial, MANIFEST_FILE), manifest);
    fsyncDir(partial);

    swapIntoPlace(partial, target, inspectTarget(target)); // look again: it may have changed
  } catch (e) {
    try {
      fs.rmSync(partial, { recursive: true, force: true });
    } catch {
      try {
        markIncomplete(partial, `failed: ${e instanceof Error ? e.message : String(e)}`);
      } catch {
        // nothing more to do; the partial folder's first manifest already says "incomplete"
      }
    }
    throw e;
  }
  return manifest;
}

type TargetState = "run" | "empty" | undefined;

/** What is at the target: nothing, an empty folder, or a run folder. Throws otherwise. */
function inspectTarget(target: string): TargetState {
  let st: fs.Stats;
  try {
    st = fs.statSync(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  if (!st.isDirectory()) throw new Error(`Refusing to write a run to ${target}: it exists and is not a folder`);
  if (fs.existsSync(path.join(target, MANIFEST_FILE))) return "run";
  if (fs.readdirSync(target).length === 0) return "empty";
  throw new Error(
    `Refusing to write a run to ${target}: the folder is not empty and is not a run folder (no ${MANIFEST_FILE}); ` +
      `choose another output folder or empty it`,
  );
}

function swapIntoPlace(partial: string, target: string, state: TargetState): void {
  if (state === undefined) {
    fs.renameSync(partial, target);
    fsyncDir(path.dirname(target));
    return;
  }
  if (state === "empty") {
    fs.rmdirSync(target); // fails, rather than deleting anything, if something appeared in it
    fs.renameSync(partial, target);
    fsyncDir(path.dirname(target));
    return;
  }
  let old = `${target}.old-${process.pid}`;
  if (fs.existsSync(old)) old += `-${randomBytes(4).toString("hex")}`;
  fs.renameSync(target, old);
  try {
    fs.renameSync(partial, target);
  } catch (e) {
    fs.renameSync(old, target); // put the previous run back
    throw e;
  }
  fsyncDir(path.dirname(target));
  try {
    fs.rmSync(old, { recursive: true, force: true });
  } catch {
    // The new run is in place; a previous run left at <outDir>.old-<pid> is only clutter.
  }
}

function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  const fd = fs.openSync(tmp, "w");
  try {
    fs.writeSync(fd, JSON.stringify(value, null, 2) + "\n");
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // not supported everywhere (e.g. Windows); the renames are what matter
  }
}

/**
 * Marks the run folder `dir` incomplete with `reason` (e.g. "interrupted"), keeping the rest
 * of its manifest. Synchronous, so it can run in a signal handler. Creates the folder and a
 * minimal manifest when there is none.
 */
export function markIncomplete(dir: string, reason: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, MANIFEST_FILE);
  let manifest: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(readUserText(file, { maxBytes: MAX_MANIFEST_BYTES }));
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) manifest = parsed as Record<string, unknown>;
  } catch {
    // missing or unreadable: write a minimal manifest
  }
  manifest.status = "incomplete";
  manifest.reason = reason;
  manifest.createdAt ??= new Date().toISOString();
  writeJsonAtomic(file, manifest);
}

// ---------------------------------------------------------------------------------------
// Reading

/**
 * Reads `<runDir>/manifest.json`. Throws a clear error when the folder does not exist, is not
 * a run folder, or holds an incomplete run (naming the reason) unless `allowIncomplete`.
 */
export function readManifest(runDir: string, options: { allowIncomplete?: boolean } = {}): Manifest {
  let st: fs.Stats;
  try {
    st = fs.statSync(runDir);
  } catch {
    throw new Error(`No such run folder: ${runDir}`);
  }
  if (!st.isDirectory()) throw new Error(`Not a run folder: ${runDir} is a file`);
  const file = path.join(runDir, MANIFEST_FILE);
  if (!fs.existsSync(file)) throw new Error(`Not a run folder: ${runDir} has no ${MANIFEST_FILE}`);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readUserText(file, { maxBytes: MAX_MANIFEST_BYTES })) as Manifest;
  } catch (e) {
    throw new Error(`Unreadable ${MANIFEST_FILE} in ${runDir}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (manifest === null || typeof manifest !== "object" || (manifest.status !== "complete" && manifest.status !== "incomplete")) {
    throw new Error(`Not a run folder: ${MANIFEST_FILE} in ${runDir} has no valid status`);
  }
  if (manifest.status === "incomplete" && !options.allowIncomplete) {
    throw new Error(`Incomplete run in ${runDir}: ${manifest.reason ?? "no reason recorded"}`);
  }
  if (manifest.status === "complete" && !fs.existsSync(path.join(runDir, DATABASE_FILE))) {
    throw new Error(`Broken run folder: ${runDir} says it is complete but has no ${DATABASE_FILE}`);
  }
  return manifest;
}
