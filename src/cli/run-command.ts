// credence run and credence resume: argument handling, progress, printing and exit codes around
// the library's run() (run/run.ts), which owns the run's lifecycle: the memory check, the worker
// thread, checkpoints, stopping, and the run folder. Ctrl-C and SIGTERM are mapped onto its
// AbortSignal: with checkpoints the run stops after the day being simulated, with a checkpoint;
// without, at once, having written nothing. A second signal leaves at once.
import { join, resolve } from "node:path";
import type { RunResult, RunStats, Summary } from "../model/result.js";
import { loadScenario, ScenarioError } from "../scenario/load.js";
import type { Scenario } from "../scenario/schema.js";
import { CheckpointKeyError } from "../io/checkpoint-key.js";
import { removePartials, run as runLibrary, RunError, type RunOptions, type RunOutcome } from "../run/run.js";
import { CliError, displayPath, printScenarioError, shellQuote, toJson } from "./common.js";
import { fmtDuration, fmtInt, renderSummary, renderTargets } from "./format.js";
import { createProgress, silentProgress } from "./progress.js";

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

export async function runCommand(file: string, opts: RunOpts, version: string): Promise<number> {
  let scenario: Scenario;
  try {
    // Limits are checked by run() with the --population and --days overrides, before anything is allocated.
    scenario = loadScenario(file, { checkLimits: false });
  } catch (e) {
    if (e instanceof ScenarioError) {
      printScenarioError(e, process.stderr);
      return 2;
    }
    throw e;
  }
  return runAndPrint(scenario, {
    seed: opts.seed,
    population: opts.population,
    days: opts.days,
    out: resolve(opts.out ?? join("runs", scenario.name)),
    version,
    scenarioPath: resolve(file),
    checkpointEvery: opts.checkpointEvery,
    threads: opts.threads,
    source: file,
    overrideNames: { population: opts.population === undefined ? undefined : "--population", days: opts.days === undefined ? undefined : "--days" },
  }, opts);
}

/** A library error that ends the command with a message (exit 1), as a CliError. */
export function asCliError(e: unknown): unknown {
  if (e instanceof RunError) return new CliError(e.message);
  if (e instanceof CheckpointKeyError) return new CliError(`no checkpoint key: ${e.message}`);
  return e;
}

/**
 * Runs (or resumes) with the library's run(), mapping SIGINT and SIGTERM onto its AbortSignal,
 * showing progress and printing the outcome; returns the exit code.
 */
export async function runAndPrint(scenario: Scenario, options: RunOptions, print: { json?: boolean; quiet?: boolean }): Promise<number> {
  const outDir = resolve(options.out);
  const days = options.resume ? scenario.days : (options.days ?? scenario.days);
  const run = displayPath(outDir);
  const resumeHint = `resume with: credence resume ${shellQuote(run)}`;
  const progress = print.quiet ? silentProgress : createProgress({ population: options.resume ? scenario.population.size : (options.population ?? scenario.population.size) });
  const checkpointing = Boolean(options.checkpointEvery || options.resume);
  let lastCheckpoint: number | null = options.resume ? options.resume.fromDay : null;

  // Signals while simulating: with checkpoints, finish the day, checkpoint it and stop;
  // without, stop the worker (nothing has been written yet). While writing, remove the
  // half-written sibling folder, so that nothing half-written looks like a run.
  // Exit 130 on SIGINT, 143 on SIGTERM (128 + signal number, as shells report them).
  let phase = "simulate" as "simulate" | "write" | "done";
  let lastDay = options.resume?.fromDay ?? 0;
  let stopping = false;
  let stopSignal: NodeJS.Signals | null = null;
  const controller = new AbortController();
  const exitCode = (signal: NodeJS.Signals) => (signal === "SIGINT" ? 130 : 143);
  const onSignal = (signal: NodeJS.Signals) => {
    const code = exitCode(signal);
    if (stopping) process.exit(code); // a second signal: leave now
    stopping = true;
    progress.done();
    stopSignal = signal;
    if (phase === "simulate") {
      if (checkpointing) {
        process.stderr.write(`\ncredence: ${signal} received; stopping at the end of the day being simulated, with a checkpoint (${signal === "SIGINT" ? "Ctrl-C" : "a signal"} again to leave at once)\n`);
      } else {
        process.stderr.write(`\ncredence: ${signal} received on day ${fmtInt(lastDay)} of ${fmtInt(days)}; simulation stopped, nothing was written.\n`);
      }
      controller.abort();
      return;
    }
    if (phase === "write") {
      // writeRunFolder builds the run in a sibling `<out>.partial-<pid>-<random>` folder and
      // only swaps it into place once complete, so <out> still holds what it held before
      // (nothing, the previous complete run, or this run's last checkpoint). Remove the
      // half-written sibling; if that fails, make sure it says it is incomplete.
      const kept = checkpointing && lastCheckpoint !== null ? ` (it keeps the checkpoint after day ${lastCheckpoint}; ${resumeHint})` : "";
      process.stderr.write(`\ncredence: ${signal} received while writing; ${run} was not replaced${kept}.\n`);
      void removePartials(outDir, `interrupted by ${signal} while writing`).then(() => process.exit(code));
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const unhook = () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };

  const started = Date.now();
  if (options.resume) progress.note(options.resume.checkpoint ? `resuming ${run} after day ${fmtInt(options.resume.fromDay)} of ${fmtInt(days)}` : `resuming ${run}: no checkpoint yet, starting from day 0`);
  let outcome: RunOutcome;
  try {
    outcome = await runLibrary(scenario, {
      ...options,
      signal: controller.signal,
      onProgress: (p) => {
        lastDay = p.day;
        progress.update(p);
      },
      onCheckpoint: (nextDay) => {
        lastCheckpoint = nextDay;
      },
      onWrite: () => {
        progress.done();
        // A stop asked for after the last day came too late to stop anything: finish writing instead.
        if (stopSignal) process.stderr.write(`credence: the simulation had already finished; writing ${run} (${stopSignal === "SIGINT" ? "Ctrl-C" : "a signal"} again to leave).\n`);
        stopping = false;
        phase = "write";
        if (!print.quiet) progress.note(`writing ${run} ...`);
      },
    });
  } catch (e) {
    progress.done();
    if (stopping && phase === "write") return new Promise<number>(() => undefined); // the signal handler exits
    unhook();
    if (e instanceof ScenarioError) {
      printScenarioError(e, process.stderr);
      return 2;
    }
    throw asCliError(e);
  } finally {
    progress.done();
  }
  if (stopping && phase === "write") return new Promise<number>(() => undefined); // the signal handler exits
  phase = "done";
  unhook();
  if (outcome.status === "stopped") {
    process.stderr.write(`credence: stopped after day ${fmtInt(outcome.nextDay)} of ${fmtInt(days)}; ${run} holds its checkpoint. To continue: credence resume ${shellQuote(run)}\n`);
    return exitCode(stopSignal ?? "SIGINT");
  }
  if (outcome.status === "aborted") process.exit(exitCode(stopSignal ?? "SIGINT"));
  return printRun(outcome.manifest, outcome.result, outDir, started, print.json);
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
    if (summary.checks?.length) {
      const held = summary.checks.filter((t) => t.pass).length;
      out.push("", "Checks (published figures the scenario is not fitted to)", renderTargets(summary.checks), "", `${held} of ${summary.checks.length} within tolerance.`);
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
