#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.hugetlb=1 node
// The `credence` command line: run a scenario, validate scenarios, explain one synthetic
// citizen's trail, list the bundled scenarios, and generate the scenario field reference.
// `run` simulates in a worker thread (run/run.ts, run/sim-worker.ts), so that Ctrl-C stops it at once.
import { Command, Option } from "commander";
import { existsSync, readdirSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { loadScenario, MAX_SCENARIO_BYTES, ScenarioError } from "../scenario/load.js";
import { readUserText } from "../io/read-file.js";
import { writeFileAtomic } from "../io/atomic.js";
import { CliError, displayPath, intArg, packageRoot, packageVersion, printScenarioError, toJson } from "./common.js";
import { registerExperimentCommands } from "./experiment-commands.js";
import { ExplainError, loadExplanation, renderExplanation } from "./explain.js";
import { registerReport } from "./report-command.js";
import { registerResume } from "./resume-command.js";
import { runCommand, type RunOpts } from "./run-command.js";
import { fieldRows, schemaMarkdown } from "./schema-doc.js";
import { registerServe } from "./serve-command.js";
import { registerAnalysisCommands } from "./analysis-commands.js";

// ---------------------------------------------------------------------------------------------
// credence validate

function validateCommand(files: string[]): number {
  let failures = 0;
  for (const file of files) {
    try {
      const s = loadScenario(file);
      process.stdout.write(`ok ${file}: ${s.name} (${s.behaviours.length} behaviour${s.behaviours.length === 1 ? "" : "s"}, ${s.lists.length} list${s.lists.length === 1 ? "" : "s"})\n`);
    } catch (e) {
      if (!(e instanceof ScenarioError)) throw e;
      failures++;
      printScenarioError(e, process.stdout);
    }
  }
  if (files.length > 1) process.stdout.write(`${files.length - failures} of ${files.length} scenarios valid\n`);
  return failures ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// credence explain

async function explainCommand(runDir: string, opts: { agent: number; json?: boolean }): Promise<number> {
  const [{ readManifest }, { queryRunRows }] = await Promise.all([import("../io/run-folder.js"), import("../io/open-db.js")]);
  try {
    const x = await loadExplanation(runDir, opts.agent, { readManifest, queryRows: queryRunRows });
    if (opts.json) process.stdout.write(toJson({ citizen: x.citizen, events: x.events }) + "\n");
    else process.stdout.write(renderExplanation(x, opts.agent) + "\n");
    return 0;
  } catch (e) {
    if (e instanceof ExplainError) {
      process.stderr.write(e.message + "\n");
      return e.exitCode;
    }
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// credence scenarios

function scenariosDir(given?: string): string {
  if (given) return resolve(given);
  const root = packageRoot();
  const bundled = root ? join(root, "scenarios") : null;
  if (bundled && existsSync(bundled)) return bundled;
  return resolve("scenarios");
}

function scenariosCommand(opts: { dir?: string }): number {
  const dir = scenariosDir(opts.dir);
  if (!existsSync(dir)) throw new CliError(`${dir}: no such folder`);
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/i.test(f)).sort();
  if (files.length === 0) {
    process.stdout.write(`no scenarios in ${displayPath(dir)}\n`);
    return 0;
  }
  const rows = files.map((f) => {
    const path = join(dir, f);
    try {
      const s = loadScenario(path);
      return { file: f, name: s.name, title: s.title || "(no title)", status: "ok" };
    } catch (e) {
      if (!(e instanceof ScenarioError)) throw e;
      let name = basename(f).replace(/\.ya?ml$/i, "");
      try {
        const m = /^name:\s*["']?([^"'\s#]+)/m.exec(readUserText(path, { maxBytes: MAX_SCENARIO_BYTES }));
        if (m) name = m[1];
      } catch {
        // not a readable regular file (a FIFO, a device): the loader's problem already says so
      }
      return { file: f, name, title: "", status: `INVALID (${e.problems.length} problem${e.problems.length === 1 ? "" : "s"}; credence validate ${displayPath(path)})` };
    }
  });
  const wf = Math.max(...rows.map((r) => r.file.length));
  const wn = Math.max(...rows.map((r) => r.name.length));
  process.stdout.write(`${displayPath(dir)}:\n`);
  for (const r of rows) {
    process.stdout.write(`  ${r.file.padEnd(wf)}  ${r.name.padEnd(wn)}  ${r.status === "ok" ? r.title : r.status}\n`.replace(/\s+\n$/, "\n"));
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// credence schema

function schemaCommand(opts: { out?: string }, version: string): number {
  const md = schemaMarkdown(version);
  if (!opts.out) {
    process.stdout.write(md);
    return 0;
  }
  const out = resolve(opts.out);
  writeFileAtomic(out, md);
  process.stderr.write(`wrote ${displayPath(out)} (${fieldRows().length} fields)\n`);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The program

function program(version: string): Command {
  const setExit = (code: number) => {
    process.exitCode = code;
  };
  const cmd = new Command("credence")
    .description("Simulate social credit scoring regimes over synthetic populations: the system's record beside the ground truth.")
    .version(version, "-v, --version")
    .showHelpAfterError("(run with --help for usage)")
    .configureHelp({ sortSubcommands: false });

  cmd
    .command("run")
    .description("simulate a scenario, write the run folder and print the summary")
    .argument("<scenario>", "scenario YAML file")
    .option("--population <n>", "number of synthetic citizens (overrides population.size)", intArg(1, 2_000_000_000))
    .option("--days <n>", "days to simulate (overrides days)", intArg(1, 36_500))
    .addOption(new Option("--seed <n>", "random seed (0 to 4294967295)").argParser(intArg(0, 4_294_967_295)).default(1))
    .option("--out <dir>", "run folder (default: runs/<scenario name>)")
    .option("--json", "print one JSON object (run folder, manifest, summary, stats) and nothing else on stdout")
    .option("-q, --quiet", "no progress on stderr")
    .option("--threads <n>", "threads for the population's shards (default: every core; results do not depend on it)", intArg(1, 256))
    .option("--checkpoint-every <days>", "write a checkpoint every N simulated days, so that a stopped or killed run can be resumed (credence resume)", intArg(1, 36_500))
    .action(async (file: string, opts: RunOpts) => setExit(await runCommand(file, opts, version)));

  cmd
    .command("validate")
    .description("check scenario files; print each problem as `path: found X, expected Y`")
    .argument("<scenario...>", "scenario YAML files")
    .action((files: string[]) => setExit(validateCommand(files)));

  cmd
    .command("explain")
    .description("tell the story of one synthetic citizen of a finished run, event by event")
    .argument("<run>", "run folder")
    .requiredOption("--agent <id>", "citizen id (see the citizens table of run.duckdb)", intArg(0, 2_000_000_000))
    .option("--json", "print {citizen, events} as JSON")
    .action(async (run: string, opts: { agent: number; json?: boolean }) => setExit(await explainCommand(run, opts)));

  cmd
    .command("scenarios")
    .description("list the bundled scenarios with their name, title and whether they validate")
    .option("--dir <dir>", "scenarios folder (default: the package's scenarios/, else ./scenarios)")
    .action((opts: { dir?: string }) => setExit(scenariosCommand(opts)));

  cmd
    .command("schema")
    .description("generate the scenario field reference (Markdown) from the schema")
    .option("--out <file>", "write to this file instead of stdout (e.g. docs/scenario-reference.md)")
    .action((opts: { out?: string }) => setExit(schemaCommand(opts, version)));

  registerAnalysisCommands(cmd);
  registerServe(cmd, version);
  registerExperimentCommands(cmd, version);
  registerReport(cmd, version);
  registerResume(cmd, version);
  return cmd;
}

async function cli(): Promise<void> {
  const version = packageVersion();
  try {
    await program(version).parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CliError) {
      process.stderr.write(`credence: ${e.message}\n`);
      process.exitCode = e.exitCode;
      return;
    }
    const err = e as NodeJS.ErrnoException;
    process.stderr.write(`credence: ${err?.message ?? String(e)}\n`);
    if (process.env.CREDENCE_DEBUG && err?.stack) process.stderr.write(err.stack + "\n");
    process.exitCode = 1;
  }
}

void cli();
