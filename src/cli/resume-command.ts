// credence resume <run folder>: continue a run started with --checkpoint-every that was stopped
// (Ctrl-C), killed, or failed, from its last checkpoint. The finished run is identical, table
// for table, to one that was never interrupted (test/checkpoint.test.ts).
import type { Command } from "commander";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CheckpointError, identityOf, verifyCheckpoint } from "../engine/checkpoint.js";
import { asInProgress, removeLeftovers } from "../io/checkpoint-folder.js";
import { readManifest } from "../io/run-folder.js";
import { parseScenario, ScenarioError } from "../scenario/load.js";
import { runLimitProblems } from "../scenario/limits.js";
import { CliError, displayPath, intArg, listenOption, printScenarioError, shellQuote, transportOption } from "./common.js";
import { checkTransport, simulateAndWrite, type TransportOpts } from "./run-command.js";

interface ResumeOpts extends TransportOpts {
  json?: boolean;
  quiet?: boolean;
  threads?: number;
}

async function resumeCommand(dir: string, opts: ResumeOpts, version: string): Promise<number> {
  checkTransport(opts);
  const outDir = resolve(dir);
  const run = displayPath(outDir);
  let m;
  try {
    m = readManifest(outDir, { allowIncomplete: true });
  } catch (e) {
    throw new CliError(`cannot resume: ${(e as Error).message}`);
  }
  if (m.status === "complete") {
    throw new CliError(`${run} holds a complete run: there is nothing to resume (to simulate it again: credence run <scenario> --out ${shellQuote(run)})`);
  }
  const inProgress = asInProgress(m);
  if (!inProgress) {
    throw new CliError(`${run} is incomplete (${m.reason ?? "no reason recorded"}) but has no checkpoints: it was not run with --checkpoint-every; run it again with credence run`);
  }
  if (inProgress.version !== version) {
    // The same layout does not mean the same model: only the version that started a run promises to finish it identically.
    throw new CliError(`${run} was started by Credence ${inProgress.version}; this is ${version}, which cannot promise to continue it identically. Resume it with Credence ${inProgress.version}, or run it again.`);
  }
  let scenario;
  try {
    const source = `${join(run, "manifest.json")} (scenario)`;
    scenario = parseScenario(inProgress.scenario, source);
    const problems = runLimitProblems(scenario); // as run checks them, before anything is allocated
    if (problems.length) throw new ScenarioError(source, problems);
  } catch (e) {
    if (e instanceof ScenarioError) {
      printScenarioError(e, process.stderr);
      return 2;
    }
    throw e;
  }

  // Checked here, before any work, so that a damaged or foreign checkpoint is refused with a
  // reason; the worker checks it again as it restores.
  const file = join(outDir, inProgress.checkpoint.file);
  let checkpoint: Uint8Array | null = null;
  let fromDay = 0;
  if (existsSync(file)) {
    checkpoint = readFileSync(file);
    try {
      fromDay = verifyCheckpoint(checkpoint, identityOf(scenario, inProgress.seed)).header.nextDay;
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e;
      throw new CliError(`cannot resume ${run}: ${join(run, inProgress.checkpoint.file)}: ${e.message}. Start the run again with credence run.`);
    }
  }
  removeLeftovers(outDir);
  return simulateAndWrite({
    scenario,
    seed: inProgress.seed,
    outDir,
    scenarioPath: inProgress.scenarioPath,
    version,
    json: opts.json,
    quiet: opts.quiet,
    threads: opts.threads,
    transport: opts.transport,
    listen: opts.listen,
    resume: { manifest: inProgress, checkpoint, fromDay },
  });
}

export function registerResume(cmd: Command, version: string): void {
  cmd
    .command("resume")
    .description("continue a run started with --checkpoint-every from its last checkpoint; the finished run is identical to an uninterrupted one")
    .argument("<run>", "run folder (the --out of the interrupted run)")
    .option("--json", "print one JSON object (run folder, manifest, summary, stats) and nothing else on stdout")
    .option("-q, --quiet", "no progress on stderr")
    .option("--threads <n>", "threads for the population's shards (any number gives the same run)", intArg(1, 256))
    .addOption(transportOption())
    .addOption(listenOption())
    .action(async (run: string, opts: ResumeOpts) => {
      process.exitCode = await resumeCommand(run, opts, version);
    });
}
