// credence resume <run folder>: continue a run started with --checkpoint-every that was stopped
// (Ctrl-C), killed, or failed, from its last checkpoint. The finished run is identical, table
// for table, to one that was never interrupted (test/checkpoint.test.ts).
//
// A run folder may come from anyone: the checkpoint must be signed with this user's key for the
// run (io/checkpoint-key.ts), or, with --trust-copied-checkpoint, is taken unsigned; either way
// the population is built again from the seed and only range-checked state is restored.
import type { Command } from "commander";
import { join, resolve } from "node:path";
import { removeLeftovers } from "../io/checkpoint-folder.js";
import { ScenarioError } from "../scenario/load.js";
import { readResume } from "../run/run.js";
import { displayPath, intArg, printScenarioError } from "./common.js";
import { asCliError, runAndPrint } from "./run-command.js";

interface ResumeOpts {
  json?: boolean;
  quiet?: boolean;
  threads?: number;
  trustCopiedCheckpoint?: boolean;
}

async function resumeCommand(dir: string, opts: ResumeOpts, version: string): Promise<number> {
  const outDir = resolve(dir);
  let found;
  try {
    found = await readResume(outDir, { version, trustCopiedCheckpoint: opts.trustCopiedCheckpoint });
  } catch (e) {
    if (e instanceof ScenarioError) {
      printScenarioError(e, process.stderr);
      return 2;
    }
    throw asCliError(e);
  }
  const { state } = found;
  if (state.checkpoint && state.unauthenticated && !opts.quiet) {
    process.stderr.write(`credence: not checking ${join(displayPath(outDir), state.manifest.checkpoint.file)}'s signature (--trust-copied-checkpoint); the population is rebuilt from the seed and the state range-checked; new checkpoints are signed with this account's key\n`);
  }
  removeLeftovers(outDir);
  return runAndPrint(found.scenario, {
    seed: found.seed,
    out: outDir,
    scenarioPath: found.scenarioPath,
    version,
    threads: opts.threads,
    resume: state,
  }, opts);
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
