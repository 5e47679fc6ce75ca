// credence run and credence resume: simulate in a worker thread (so that Ctrl-C is answered at
// once), write the run folder, print the summary.
//
// Without --checkpoint-every nothing is written until the run has finished, and then the run
// folder appears whole (io/run-folder.ts). With it, the folder exists from the start as an
// incomplete run (io/checkpoint-folder.ts): its manifest names the day of the last checkpoint
// and how to resume, so a run that is killed, runs out of disk or throws is never taken for a
// complete one; the finished run replaces it, whole, as without checkpoints.
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { RunResult, RunStats, Summary } from "../engine/result.js";
import { SimulationStopped } from "../engine/checkpoint.js";
import { loadScenario, ScenarioError } from "../scenario/load.js";
import { runLimitProblems } from "../scenario/limits.js";
import type { Scenario } from "../scenario/schema.js";
import { scenarioHash } from "../scenario/hash.js";
import { CHECKPOINT_FILE, saveCheckpointFile, startCheckpointFolder, type InProgressManifest } from "../io/checkpoint-folder.js";
import { CheckpointKeyError, newRunId, runCheckpointKey } from "../io/checkpoint-key.js";
import { CliError, displayPath, printScenarioError, shellQuote, toJson } from "./common.js";
import { fmtDuration, fmtInt, renderSummary, renderTargets } from "./format.js";
import { createProgress, silentProgress } from "./progress.js";
import { type SimulationHandle, simulateInWorker } from "./sim-worker.js";

export interface RunOpts {
  population?: number;
  days?: number;
  seed: number;
  out?: string;
  json?: boolean;
  quiet?: boolean;
  checkpointEvery?: number;
  threads?: number;
}

async function exampleAgent(runDir: string): Promise<{ agent: number; why: string } | null> {
  try {
    const { queryRows } = await import("../io/duckdb.js");
    const db = join(runDir, "run.duckdb");
    const tries: [string, string][] = [
      [`SELECT agent FROM citizens WHERE wrongfully_listed ORDER BY agent LIMIT 1`, "wrongly listed"],
      [`SELECT agent FROM trail WHERE event = 'listed' ORDER BY agent LIMIT 1`, "listed"],
      [`SELECT agent FROM trail WHERE event = 'observed' AND kind <> 'true' ORDER BY agent LIMIT 1`, "charged with something they did not do"],
      [`SELECT agent FROM citizens ORDER BY agent LIMIT 1`, "in the trail sample"],
    ];
    for (const [sql, why] of tries) {
      const rows = await queryRows(db, sql);
      if (rows.length) return { agent: Number(rows[0].agent), why };
    }
  } catch {
    // The hint is a nicety; never fail a finished run over it.
  }
  return null;
}

/**
 * Refuse, before simulating, an output folder that writeRunFolder would refuse at the end: a
 * file, or a non-empty folder that is not a run folder (io/run-folder.ts replaces only runs).
 */
function checkOutDir(outDir: string): void {
  if (!existsSync(outDir)) return;
  if (!statSync(outDir).isDirectory()) throw new CliError(`${displayPath(outDir)} exists and is not a folder; choose another --out`);
  if (existsSync(join(outDir, "manifest.json")) || readdirSync(outDir).length === 0) return;
  throw new CliError(`${displayPath(outDir)} is not empty and is not a run folder (no manifest.json); choose another --out or empty it`);
}

/** Remove this process's half-written `<outDir>.partial-<pid>-*` folders (see io/run-folder.ts). */
async function cleanPartials(outDir: string, reason: string): Promise<void> {
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
        process.stderr.write(`credence: could not clean up ${displayPath(p)}: ${(err as Error).message}\n`);
      }
    }
  }
}

export async function runCommand(file: string, opts: RunOpts, version: string): Promise<number> {
  let scenario: Scenario;
  try {
    // Limits are checked with the --population and --days overrides, before anything is allocated.
    scenario = loadScenario(file, { checkLimits: false });
    const where = { population: opts.population === undefined ? undefined : "--population", days: opts.days === undefined ? undefined : "--days" };
    const problems = runLimitProblems(scenario, { population: opts.population, days: opts.days, where });
    if (problems.length) throw new ScenarioError(file, problems);
  } catch (e) {
    if (e instanceof ScenarioError) {
      printScenarioError(e, process.stderr);
      return 2;
    }
    throw e;
  }
  const outDir = resolve(opts.out ?? join("runs", scenario.name));
  checkOutDir(outDir);
  const { resolveScenario } = await import("../engine/simulate.js");
  return simulateAndWrite({
    scenario: resolveScenario(scenario, opts),
    seed: opts.seed,
    outDir,
    scenarioPath: resolve(file),
    version,
    json: opts.json,
    quiet: opts.quiet,
    checkpointEvery: opts.checkpointEvery,
    threads: opts.threads,
  });
}

/** A run to simulate and write: a new one, or (with `resume`) one continued from its folder. */
export interface RunJob {
  /** Resolved: --population and --days applied. */
  scenario: Scenario;
  seed: number;
  outDir: string;
  scenarioPath?: string;
  version: string;
  json?: boolean;
  quiet?: boolean;
  checkpointEvery?: number;
  /** Threads for the shards (results do not depend on it). */
  threads?: number;
  /**
   * Continue the in-progress run at outDir (from its checkpoint, or from day 0 when it has none
   * yet), signing checkpoints with `key`; `unauthenticated`: the checkpoint's signature is not checked.
   */
  resume?: { manifest: InProgressManifest; checkpoint: Uint8Array | null; fromDay: number; key: Uint8Array; unauthenticated: boolean };
}

/** This user's key for the checkpoints of run `runId` (io/checkpoint-key.ts), or a CliError saying why there is none. */
export function checkpointKeyFor(runId: string): Uint8Array {
  try {
    return runCheckpointKey(runId);
  } catch (e) {
    if (e instanceof CheckpointKeyError) throw new CliError(`no checkpoint key: ${e.message}`);
    throw e;
  }
}

export async function simulateAndWrite(job: RunJob): Promise<number> {
  const { scenario, outDir } = job;
  const days = scenario.days;
  const population = scenario.population.size;
  const run = displayPath(outDir);
  const resumeHint = `resume with: credence resume ${shellQuote(run)}`;
  const progress = job.quiet ? silentProgress : createProgress({ population });

  // The in-progress folder of a checkpointed run, and the day of its last checkpoint.
  let inProgress: InProgressManifest | undefined = job.resume?.manifest;
  let lastCheckpoint: number | null = job.resume ? job.resume.fromDay : null;
  let checkpointKey = job.resume?.key;
  if (job.checkpointEvery && !inProgress) {
    const runId = newRunId();
    checkpointKey = checkpointKeyFor(runId); // before the folder is made: no key, no run
    inProgress = {
      status: "incomplete",
      reason: `interrupted before the first checkpoint; ${resumeHint} (it starts again from day 0)`,
      name: scenario.name,
      scenario,
      scenarioHash: scenarioHash(scenario),
      ...(job.scenarioPath !== undefined ? { scenarioPath: job.scenarioPath } : {}),
      seed: job.seed,
      version: job.version,
      population,
      days,
      startDate: scenario.startDate,
      createdAt: new Date().toISOString(),
      checkpoint: { file: CHECKPOINT_FILE, everyDays: job.checkpointEvery, day: null, runId },
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
      process.stderr.write(`credence: could not mark ${run} as failed: ${(err as Error).message}\n`);
    }
  };

  // Signals while simulating: with checkpoints, finish the day, checkpoint it and stop;
  // without, stop the worker (nothing has been written yet). While writing, remove the
  // half-written sibling folder, so that nothing half-written looks like a run.
  // Exit 130 on SIGINT, 143 on SIGTERM (128 + signal number, as shells report them).
  let phase: "simulate" | "write" | "done" = "simulate";
  let lastDay = job.resume?.fromDay ?? 0;
  let sim: SimulationHandle | null = null;
  let stopping = false;
  let stopSignal: NodeJS.Signals | null = null;
  const exitCode = (signal: NodeJS.Signals) => (signal === "SIGINT" ? 130 : 143);
  const onSignal = (signal: NodeJS.Signals) => {
    const code = exitCode(signal);
    if (stopping) process.exit(code); // a second signal: leave now
    stopping = true;
    progress.done();
    if (phase === "simulate" && inProgress && sim) {
      stopSignal = signal;
      process.stderr.write(`\ncredence: ${signal} received; stopping at the end of the day being simulated, with a checkpoint (${signal === "SIGINT" ? "Ctrl-C" : "a signal"} again to leave at once)\n`);
      sim.requestStop();
      return;
    }
    void (async () => {
      if (phase === "simulate") {
        process.stderr.write(`\ncredence: ${signal} received on day ${fmtInt(lastDay)} of ${fmtInt(days)}; simulation stopped, nothing was written.\n`);
        await sim?.stop().catch(() => undefined);
      } else if (phase === "write") {
        // writeRunFolder builds the run in a sibling `<out>.partial-<pid>-<random>` folder and
        // only swaps it into place once complete, so <out> still holds what it held before
        // (nothing, the previous complete run, or this run's last checkpoint). Remove the
        // half-written sibling; if that fails, make sure it says it is incomplete.
        const kept = inProgress && lastCheckpoint !== null ? ` (it keeps the checkpoint after day ${lastCheckpoint}; ${resumeHint})` : "";
        process.stderr.write(`\ncredence: ${signal} received while writing; ${run} was not replaced${kept}.\n`);
        await cleanPartials(outDir, `interrupted by ${signal} while writing`);
      }
      process.exit(code);
    })();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const unhook = () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };

  const started = Date.now();
  if (job.resume) progress.note(job.resume.checkpoint ? `resuming ${run} after day ${fmtInt(job.resume.fromDay)} of ${fmtInt(days)}` : `resuming ${run}: no checkpoint yet, starting from day 0`);
  sim = simulateInWorker(scenario, {
    seed: job.seed, threads: job.threads,
    ...(checkpointKey ? { checkpointKey } : {}),
    ...(job.resume?.checkpoint ? { resume: job.resume.checkpoint, resumeUnauthenticated: job.resume.unauthenticated } : {}),
  }, (p) => {
    lastDay = p.day;
    progress.update(p);
  }, checkpoints);
  let result: RunResult;
  try {
    result = await sim.result;
  } catch (e) {
    progress.done();
    if (e instanceof SimulationStopped && stopSignal) {
      unhook();
      process.stderr.write(`credence: stopped after day ${fmtInt(e.nextDay)} of ${fmtInt(days)}; ${run} holds its checkpoint. To continue: credence resume ${shellQuote(run)}\n`);
      return exitCode(stopSignal);
    }
    if (stopping) return new Promise<number>(() => undefined); // the signal handler exits
    if (job.resume?.checkpoint && (e as Error).name === "CheckpointError") {
      // Refused as it was restored (a value out of range...): the folder stays as it was.
      unhook();
      throw new CliError(`cannot resume ${run}: ${join(run, job.resume.manifest.checkpoint.file)}: ${(e as Error).message}. Start the run again with credence run.`);
    }
    await markFailed(`failed after day ${lastDay} of ${days}: ${(e as Error).message}`);
    unhook();
    throw e;
  } finally {
    progress.done();
  }
  if (stopping && !stopSignal) return new Promise<number>(() => undefined); // the signal handler exits
  // A stop asked for after the last day came too late to stop anything: finish writing instead.
  if (stopSignal) process.stderr.write(`credence: the simulation had already finished; writing ${run} (${stopSignal === "SIGINT" ? "Ctrl-C" : "a signal"} again to leave).\n`);
  stopping = false;

  phase = "write";
  if (!job.quiet) progress.note(`writing ${run} ...`);
  const { writeRunFolder } = await import("../io/run-folder.js");
  let manifest;
  try {
    manifest = await writeRunFolder(result, outDir, { version: job.version, scenarioPath: job.scenarioPath });
  } catch (e) {
    if (!stopping) {
      await markFailed(`failed while writing the run folder: ${(e as Error).message}`);
      unhook();
    }
    throw e;
  }
  if (stopping) return new Promise<number>(() => undefined);
  phase = "done";
  unhook();
  return printRun(manifest, result, outDir, started, job.json);
}

async function printRun(
  manifest: Awaited<ReturnType<typeof import("../io/run-folder.js").writeRunFolder>>,
  result: RunResult,
  outDir: string,
  started: number,
  json: boolean | undefined,
): Promise<number> {
  const summary: Summary = manifest.summary ?? result.summary;
  const stats: RunStats = manifest.stats ?? result.stats;
  const failed = summary.targets.filter((t) => !t.pass);
  const run = displayPath(outDir);

  if (json) {
    const { scenario: _omit, ...fields } = manifest as typeof manifest & { scenario?: unknown };
    void _omit;
    process.stdout.write(toJson({ run, ...fields, summary, stats }) + "\n");
  } else {
    const out: string[] = [renderSummary(summary, stats, manifest.scenario ?? result.scenario)];
    if (summary.targets.length) {
      out.push("", "Targets", renderTargets(summary.targets));
      out.push(
        "",
        failed.length
          ? `${failed.length} of ${summary.targets.length} targets failed (outside tolerance): ${failed.map((t) => t.metric).join(", ")}`
          : `All ${summary.targets.length} targets pass.`,
      );
    }
    const example = await exampleAgent(outDir);
    out.push(
      "",
      `Run folder: ${run}  (manifest.json, run.duckdb; ${fmtDuration((Date.now() - started) / 1000)} in all)`,
      `Explain a synthetic citizen: credence explain ${shellQuote(run)} --agent ${example ? example.agent : "<id>"}` +
        (example ? `   (#${example.agent}: ${example.why})` : ""),
    );
    process.stdout.write(out.join("\n") + "\n");
  }
  if (failed.length && json) process.stderr.write(`credence: ${failed.length} of ${summary.targets.length} targets failed\n`);
  return 0;
}
