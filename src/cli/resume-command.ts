// credence resume <run folder>: continue a run started with --checkpoint-every that was stopped
// (Ctrl-C), killed, or failed, from its last checkpoint. The finished run is identical, table
// for table, to one that was never interrupted (test/checkpoint.test.ts).
//
// A run folder may come from anyone: the checkpoint must be signed with this user's key for the
// run (io/checkpoint-key.ts), or, with --trust-copied-checkpoint, is taken unsigned; either way
// the population is built again from the seed and only range-checked state is restored.
import type { Command } from "commander";
import { join, resolve } from "node:path";
import { CheckpointError, CheckpointSignatureError, identityOf, verifyCheckpoint } from "../engine/checkpoint.js";
import { asInProgress, readCheckpointFile, removeLeftovers } from "../io/checkpoint-folder.js";
import { isRunId, secretPath } from "../io/checkpoint-key.js";
import { readManifest } from "../io/run-folder.js";
import { parseScenario, ScenarioError } from "../scenario/load.js";
import { runLimitProblems } from "../scenario/limits.js";
import { CliError, displayPath, intArg, printScenarioError, shellQuote } from "./common.js";
import { checkpointKeyFor, simulateAndWrite } from "./run-command.js";

interface ResumeOpts {
  json?: boolean;
  quiet?: boolean;
  threads?: number;
  trustCopiedCheckpoint?: boolean;
}

async function resumeCommand(dir: string, opts: ResumeOpts, version: string): Promise<number> {
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

  const runId = inProgress.checkpoint.runId;
  if (!isRunId(runId)) {
    throw new CliError(`cannot resume ${run}: its manifest has no run id to find its checkpoint key (an earlier Credence, which did not sign checkpoints, started it). Start the run again with credence run.`);
  }
  const key = checkpointKeyFor(runId);
  const unauthenticated = opts.trustCopiedCheckpoint === true;

  // Checked here, before any work, so that a damaged, foreign or unsigned checkpoint is refused
  // with a reason; the worker checks it again as it restores, with the state's ranges.
  const shown = join(run, inProgress.checkpoint.file);
  let checkpoint: Uint8Array | null;
  try {
    checkpoint = readCheckpointFile(outDir, inProgress.checkpoint.file);
  } catch (e) {
    throw new CliError(`cannot resume ${run}: ${(e as Error).message}. Start the run again with credence run.`);
  }
  let fromDay = 0;
  if (checkpoint) {
    try {
      fromDay = verifyCheckpoint(checkpoint, identityOf(scenario, inProgress.seed), unauthenticated ? null : key).header.nextDay;
    } catch (e) {
      if (e instanceof CheckpointSignatureError) {
        throw new CliError(`cannot resume ${run}: ${shown}: ${e.message}. This account's checkpoints are signed with a key made from ${secretPath()}. ` +
          `If you copied this folder from a run of yours elsewhere, resume with --trust-copied-checkpoint (the population is still rebuilt from the seed and the state range-checked); otherwise start the run again with credence run.`);
      }
      if (!(e instanceof CheckpointError)) throw e;
      throw new CliError(`cannot resume ${run}: ${shown}: ${e.message}. Start the run again with credence run.`);
    }
    if (unauthenticated && !opts.quiet) {
      process.stderr.write(`credence: not checking ${shown}'s signature (--trust-copied-checkpoint); the population is rebuilt from the seed and the state range-checked; new checkpoints are signed with this account's key\n`);
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
    resume: { manifest: inProgress, checkpoint, fromDay, key, unauthenticated },
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
    .option("--trust-copied-checkpoint", "resume from a checkpoint written under another account or on another machine: its signature is not checked (the population is still rebuilt from the seed, and the state range-checked)")
    .action(async (run: string, opts: ResumeOpts) => {
      process.exitCode = await resumeCommand(run, opts, version);
    });
}
