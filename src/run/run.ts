// A run's lifecycle, for every front end: the memory check, simulating in a worker thread (so the
// caller stays free to stop it), checkpoints, stopping on an AbortSignal, and the run folder.
//
// Without `checkpointEvery` nothing is written until the run has finished, and then the run
// folder appears whole (io/run-folder.ts). With it, the folder exists from the start as an
// incomplete run (io/checkpoint-folder.ts): its manifest names the day of the last checkpoint
// and how to resume, so a run that is killed, runs out of disk or throws is never taken for a
// complete one; the finished run replaces it, whole, as without checkpoints.
//
// Aborting (options.signal): with checkpoints, the run finishes the day it is simulating, saves
// a checkpoint of it and resolves "stopped" (the folder resumes with resume()); without, the
// worker is ended at once and nothing is written ("aborted"). Once the simulation has finished,
// the folder is written whatever the signal says: writing is atomic, and the caller that must
// leave at once (the CLI on a second Ctrl-C) removes the half-written sibling with removePartials().
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join, relative, resolve as resolvePath } from "node:path";
import type { Progress, RunResult } from "../model/result.js";
import { CheckpointError, CheckpointSignatureError, identityOf, SimulationStopped, verifyCheckpoint } from "../engine/checkpoint.js";
import type { Scenario } from "../scenario/schema.js";
import { scenarioHash } from "../scenario/hash.js";
import { runLimitProblems, type Machine } from "../scenario/limits.js";
import { parseScenario, ScenarioError } from "../scenario/load.js";
import { asInProgress, CHECKPOINT_FILE, readCheckpointFile, removeLeftovers, saveCheckpointFile, startCheckpointFolder, type InProgressManifest } from "../io/checkpoint-folder.js";
import { isRunId, newRunId, runCheckpointKey, secretPath } from "../io/checkpoint-key.js";
import type { Manifest } from "../io/run-folder.js";
import { simulateInWorker, type SimulationHandle } from "./sim-worker.js";

/** A path as people see it: relative to the working folder when inside it. */
export const displayPath = (p: string): string => {
  const rel = relative(process.cwd(), p);
  return rel && !rel.startsWith("..") && !rel.startsWith("/") ? rel : p;
};

/** `s` as one shell word. */
export const shellQuote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** A run that cannot start or continue, with the reason in words (the CLI prints it and exits 1). */
export class RunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RunError";
  }
}

/** A checkpointed run to continue: what readResume() found in its folder. */
export interface ResumeState {
  manifest: InProgressManifest;
  /** The checkpoint's bytes, or null when the run stopped before its first checkpoint (it starts again from day 0). */
  checkpoint: Uint8Array | null;
  /** The day the checkpoint continues from (0 without one). */
  fromDay: number;
  /** This user's key for the run's checkpoints. */
  key: Uint8Array;
  /** The checkpoint's signature was not checked (a folder copied from elsewhere). */
  unauthenticated: boolean;
}

export interface RunOptions {
  seed: number;
  /** Overrides of the scenario's population size and days (checked against this machine's memory first). */
  population?: number;
  days?: number;
  /** Threads for the shards (results do not depend on it). */
  threads?: number;
  /** The run folder (made or replaced; a non-empty folder that is not a run is refused). */
  out: string;
  /** Written into the manifest: the Credence version, and where the scenario came from. */
  version: string;
  scenarioPath?: string;
  /** Save a checkpoint every this many days; the folder is an incomplete, resumable run until the end. */
  checkpointEvery?: number;
  /** Called after each simulated day. */
  onProgress?: (p: Progress) => void;
  /** Called after each checkpoint is saved, with the day it continues from. */
  onCheckpoint?: (nextDay: number) => void;
  /** Called when the simulation has finished and the run folder is about to be written. */
  onWrite?: () => void;
  /** Called with a warning that does not stop the run (the folder could not be marked as failed...). */
  onWarning?: (message: string) => void;
  /** Stops the run (see the top of this file). */
  signal?: AbortSignal;
  /** The scenario's source (a file name) in the memory check's error, and its names for the overrides ("--population"). */
  source?: string;
  overrideNames?: { population?: string; days?: string };
  /** The machine the memory check measures against (default: this one, now). */
  machine?: Machine;
  /** Continue a checkpointed run (from readResume()); `out` is its folder. */
  resume?: ResumeState;
}

export type RunOutcome =
  | { status: "complete"; outDir: string; manifest: Manifest; result: RunResult }
  /** Stopped by the signal after day `nextDay`, with a checkpoint of it: resume(outDir) continues. */
  | { status: "stopped"; outDir: string; nextDay: number; days: number }
  /** Stopped by the signal on day `day` without checkpoints: nothing was written. */
  | { status: "aborted"; outDir: string; day: number; days: number };

/** How a run at outDir is resumed, in its manifest's reasons. */
const resumeHintFor = (outDir: string): string => `resume with: credence resume ${shellQuote(displayPath(outDir))}`;

/**
 * Refuse, before simulating, an output folder that writeRunFolder would refuse at the end: a
 * file, or a non-empty folder that is not a run folder (io/run-folder.ts replaces only runs).
 */
export function checkOutDir(outDir: string): void {
  if (!existsSync(outDir)) return;
  if (!statSync(outDir).isDirectory()) throw new RunError(`${displayPath(outDir)} exists and is not a folder; choose another --out`);
  if (existsSync(join(outDir, "manifest.json")) || readdirSync(outDir).length === 0) return;
  throw new RunError(`${displayPath(outDir)} is not empty and is not a run folder (no manifest.json); choose another --out or empty it`);
}

/** Remove this process's half-written `<outDir>.partial-<pid>-*` folders (see io/run-folder.ts). */
export async function removePartials(outDir: string, reason: string, onWarning = stderrWarning): Promise<void> {
  const parent = dirname(outDir);
  const prefix = `${basename(outDir)}.partial-${process.pid}-`;
  let entries: string[] = [];
  try {
    entries = readdirSync(parent).filter((e) => e.startsWith(prefix));
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(parent, e);
    try {
      rmSync(p, { recursive: true, force: true });
    } catch {
      try {
        const { markIncomplete } = await import("../io/run-folder.js");
        markIncomplete(p, reason);
      } catch (err) {
        onWarning(`could not clean up ${displayPath(p)}: ${(err as Error).message}`);
      }
    }
  }
}

function stderrWarning(message: string): void {
  process.stderr.write(`credence: ${message}\n`);
}

/**
 * A run kept in memory (calibration points, a comparison's or a sweep's replicates): the same
 * memory check as run(), then the simulation in a worker thread that stop() ends; no run folder
 * and no checkpoints, as what is kept is the summary. A run that does not fit this machine
 * rejects with the check's ScenarioError before anything is allocated.
 */
export function runInMemory(
  scenario: Scenario,
  options: { seed: number; population?: number; days?: number; threads?: number; onProgress?: (p: Progress) => void; machine?: Machine },
): Pick<SimulationHandle, "result" | "stop"> {
  const problems = runLimitProblems(scenario, { population: options.population, days: options.days }, options.machine);
  if (problems.length) return { result: Promise.reject(new ScenarioError(scenario.name, problems)), stop: async () => undefined };
  const { seed, population, days, threads } = options;
  return simulateInWorker(scenario, { seed, population, days, threads }, options.onProgress ?? (() => undefined));
}

/**
 * Simulates `scenario` and writes its run folder at `options.out`. Resolves with the outcome
 * ("complete", or "stopped"/"aborted" after options.signal); throws a ScenarioError when the run
 * does not fit this machine, a RunError when the folder cannot be used, and the simulation's or
 * the writer's error otherwise (after marking a checkpointed folder incomplete, saying why).
 */
export async function run(scenario: Scenario, options: RunOptions): Promise<RunOutcome> {
  const outDir = resolvePath(options.out);
  const onWarning = options.onWarning ?? stderrWarning;
  // The memory check, before anything is allocated.
  const problems = runLimitProblems(scenario, { population: options.population, days: options.days, where: options.overrideNames }, options.machine);
  if (problems.length) throw new ScenarioError(options.source ?? scenario.name, problems);
  if (!options.resume) checkOutDir(outDir);
  if (!options.resume) {
    const { resolveScenario } = await import("../model/simulate.js");
    scenario = resolveScenario(scenario, { population: options.population, days: options.days });
  }
  const days = scenario.days;
  const population = scenario.population.size;
  const shown = displayPath(outDir);
  const resumeHint = resumeHintFor(outDir);
  const resume = options.resume;

  // The in-progress folder of a checkpointed run, and the day of its last checkpoint.
  let inProgress: InProgressManifest | undefined = resume?.manifest;
  let lastCheckpoint: number | null = resume ? resume.fromDay : null;
  let checkpointKey = resume?.key;
  if (options.checkpointEvery && !inProgress) {
    const runId = newRunId();
    checkpointKey = runCheckpointKey(runId); // before the folder is made: no key, no run
    inProgress = {
      status: "incomplete",
      reason: `interrupted before the first checkpoint; ${resumeHint} (it starts again from day 0)`,
      name: scenario.name,
      scenario,
      scenarioHash: scenarioHash(scenario),
      ...(options.scenarioPath !== undefined ? { scenarioPath: options.scenarioPath } : {}),
      seed: options.seed,
      version: options.version,
      population,
      days,
      startDate: scenario.startDate,
      createdAt: new Date().toISOString(),
      checkpoint: { file: CHECKPOINT_FILE, everyDays: options.checkpointEvery, day: null, runId },
    };
    startCheckpointFolder(outDir, inProgress);
  }
  const checkpoints = inProgress
    ? {
        everyDays: inProgress.checkpoint.everyDays,
        write: (bytes: Uint8Array, nextDay: number) => {
          inProgress = {
            ...inProgress!,
            reason: `interrupted after day ${nextDay} of ${days} (the last checkpoint); ${resumeHint}`,
            checkpoint: { ...inProgress!.checkpoint, day: nextDay },
          };
          saveCheckpointFile(outDir, bytes, inProgress);
          lastCheckpoint = nextDay;
          options.onCheckpoint?.(nextDay);
        },
      }
    : undefined;
  /** Say in the folder why the run did not finish (keeping the last checkpoint, which still resumes). */
  const markFailed = async (what: string) => {
    if (!inProgress) return;
    const kept = lastCheckpoint !== null ? `the checkpoint after day ${lastCheckpoint} is kept; ` : "";
    try {
      const { markIncomplete } = await import("../io/run-folder.js");
      markIncomplete(outDir, `${what}; ${kept}${resumeHint}`);
    } catch (err) {
      onWarning(`could not mark ${shown} as failed: ${(err as Error).message}`);
    }
  };

  let lastDay = resume?.fromDay ?? 0;
  const sim = simulateInWorker(scenario, {
    seed: options.seed, threads: options.threads,
    ...(checkpointKey ? { checkpointKey } : {}),
    ...(resume?.checkpoint ? { resume: resume.checkpoint, resumeUnauthenticated: resume.unauthenticated } : {}),
  }, (p) => {
    lastDay = p.day;
    options.onProgress?.(p);
  }, checkpoints);

  // Aborted without checkpoints: end the worker now (nothing has been written yet).
  let abortedAt: number | null = null;
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<"aborted">((resolveAborted) => {
    onAbort = () => {
      if (inProgress) {
        sim.requestStop(); // finish the day, checkpoint it, stop: sim.result rejects with SimulationStopped
        return;
      }
      abortedAt = lastDay;
      void sim.stop().catch(() => undefined).then(() => resolveAborted("aborted"));
    };
  });
  const signal = options.signal;
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });

  let result: RunResult;
  try {
    const first = await Promise.race([sim.result, aborted]);
    if (first === "aborted") return { status: "aborted", outDir, day: abortedAt ?? lastDay, days };
    result = first;
  } catch (e) {
    if (e instanceof SimulationStopped) return { status: "stopped", outDir, nextDay: e.nextDay, days };
    if (abortedAt !== null) return { status: "aborted", outDir, day: abortedAt, days };
    if (resume?.checkpoint && (e as Error).name === "CheckpointError") {
      // Refused as it was restored (a value out of range...): the folder stays as it was.
      throw new RunError(`cannot resume ${shown}: ${join(shown, resume.manifest.checkpoint.file)}: ${(e as Error).message}. Start the run again with credence run.`);
    }
    await markFailed(`failed after day ${lastDay} of ${days}: ${(e as Error).message}`);
    throw e;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  // Aborted without checkpoints after the last day, as the result came: nothing is written.
  if (abortedAt !== null || (signal?.aborted && !inProgress)) return { status: "aborted", outDir, day: abortedAt ?? lastDay, days };

  options.onWrite?.();
  const { writeRunFolder } = await import("../io/run-folder.js");
  let manifest: Manifest;
  try {
    manifest = await writeRunFolder(result, outDir, { version: options.version, scenarioPath: options.scenarioPath });
  } catch (e) {
    await markFailed(`failed while writing the run folder: ${(e as Error).message}`);
    throw e;
  }
  return { status: "complete", outDir, manifest, result };
}

/**
 * What resuming the checkpointed run at `dir` needs: its scenario, seed and checkpoint (checked:
 * signed with this user's key for the run, unless `trustCopiedCheckpoint`). Throws a RunError
 * saying why the folder cannot be resumed, or a ScenarioError when its scenario does not load or fit.
 */
export async function readResume(dir: string, options: { version: string; trustCopiedCheckpoint?: boolean }): Promise<{ scenario: Scenario; seed: number; scenarioPath?: string; state: ResumeState }> {
  const outDir = resolvePath(dir);
  const shown = displayPath(outDir);
  const { readManifest } = await import("../io/run-folder.js");
  let m;
  try {
    m = readManifest(outDir, { allowIncomplete: true });
  } catch (e) {
    throw new RunError(`cannot resume: ${(e as Error).message}`);
  }
  if (m.status === "complete") {
    throw new RunError(`${shown} holds a complete run: there is nothing to resume (to simulate it again: credence run <scenario> --out ${shellQuote(shown)})`);
  }
  const inProgress = asInProgress(m);
  if (!inProgress) {
    throw new RunError(`${shown} is incomplete (${m.reason ?? "no reason recorded"}) but has no checkpoints: it was not run with --checkpoint-every; run it again with credence run`);
  }
  if (inProgress.version !== options.version) {
    // The same layout does not mean the same model: only the version that started a run promises to finish it identically.
    throw new RunError(`${shown} was started by Credence ${inProgress.version}; this is ${options.version}, which cannot promise to continue it identically. Resume it with Credence ${inProgress.version}, or run it again.`);
  }
  const source = `${join(shown, "manifest.json")} (scenario)`;
  const scenario = parseScenario(inProgress.scenario, source);
  const problems = runLimitProblems(scenario); // as run checks them, before anything is allocated
  if (problems.length) throw new ScenarioError(source, problems);

  const runId = inProgress.checkpoint.runId;
  if (!isRunId(runId)) {
    throw new RunError(`cannot resume ${shown}: its manifest has no run id to find its checkpoint key (an earlier Credence, which did not sign checkpoints, started it). Start the run again with credence run.`);
  }
  const key = runCheckpointKey(runId);
  const unauthenticated = options.trustCopiedCheckpoint === true;

  // Checked here, before any work, so that a damaged, foreign or unsigned checkpoint is refused
  // with a reason; the worker checks it again as it restores, with the state's ranges.
  const file = join(shown, inProgress.checkpoint.file);
  let checkpoint: Uint8Array | null;
  try {
    checkpoint = readCheckpointFile(outDir, inProgress.checkpoint.file);
  } catch (e) {
    throw new RunError(`cannot resume ${shown}: ${(e as Error).message}. Start the run again with credence run.`);
  }
  let fromDay = 0;
  if (checkpoint) {
    try {
      fromDay = verifyCheckpoint(checkpoint, identityOf(scenario, inProgress.seed), unauthenticated ? null : key).header.nextDay;
    } catch (e) {
      if (e instanceof CheckpointSignatureError) {
        throw new RunError(`cannot resume ${shown}: ${file}: ${e.message}. This account's checkpoints are signed with a key made from ${secretPath()}. ` +
          `If you copied this folder from a run of yours elsewhere, resume with --trust-copied-checkpoint (the population is still rebuilt from the seed and the state range-checked); otherwise start the run again with credence run.`);
      }
      if (!(e instanceof CheckpointError)) throw e;
      throw new RunError(`cannot resume ${shown}: ${file}: ${e.message}. Start the run again with credence run.`);
    }
  }
  return { scenario, seed: inProgress.seed, scenarioPath: inProgress.scenarioPath, state: { manifest: inProgress, checkpoint, fromDay, key, unauthenticated } };
}

/**
 * Continues the checkpointed run at `dir` from its last checkpoint, to the same run an
 * uninterrupted one would have been (the folder's seed and scenario; leftovers of the
 * interrupted attempt are removed first).
 */
export async function resume(dir: string, options: Omit<RunOptions, "out" | "seed" | "population" | "days" | "resume" | "scenarioPath" | "checkpointEvery" | "source" | "overrideNames" | "machine"> & { trustCopiedCheckpoint?: boolean }): Promise<RunOutcome> {
  const found = await readResume(dir, options);
  removeLeftovers(resolvePath(dir));
  return run(found.scenario, { ...options, out: dir, seed: found.seed, scenarioPath: found.scenarioPath, resume: found.state });
}
