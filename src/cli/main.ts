#!/usr/bin/env node
// The `credence` command line: run a scenario, validate scenarios, explain one synthetic
// citizen's trail, list the bundled scenarios, and generate the scenario field reference.
// `run` simulates in a worker thread (sim-worker.ts), so that Ctrl-C stops it at once.
import { Command, Option } from "commander";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { RunResult, RunStats, Summary } from "../engine/result.js";
import { loadScenario, ScenarioError } from "../scenario/load.js";
import { runLimitProblems } from "../scenario/limits.js";
import { writeFileAtomic } from "../io/atomic.js";
import type { Scenario } from "../scenario/schema.js";
import { CliError, displayPath, intArg, packageRoot, packageVersion, printScenarioError, shellQuote, toJson } from "./common.js";
import { registerExperimentCommands } from "./experiment-commands.js";
import { ExplainError, loadExplanation, renderExplanation } from "./explain.js";
import { fmtDuration, fmtInt, renderSummary, renderTargets } from "./format.js";
import { createProgress, silentProgress } from "./progress.js";
import { registerReport } from "./report-command.js";
import { fieldRows, schemaMarkdown } from "./schema-doc.js";
import { registerServe } from "./serve-command.js";
import { type SimulationHandle, simulateInWorker } from "./sim-worker.js";
import { registerAnalysisCommands } from "./analysis-commands.js";

// ---------------------------------------------------------------------------------------------
// credence run

interface RunOpts {
  population?: number;
  days?: number;
  seed: number;
  out?: string;
  json?: boolean;
  quiet?: boolean;
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

async function runCommand(file: string, opts: RunOpts, version: string): Promise<number> {
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
  const population = opts.population ?? scenario.population.size;
  const days = opts.days ?? scenario.days;
  const outDir = resolve(opts.out ?? join("runs", scenario.name));
  checkOutDir(outDir);
  const progress = opts.quiet ? silentProgress : createProgress({ population });

  // Signals: while simulating, stop the worker (nothing has been written yet); while writing,
  // remove the half-written sibling folder, so that nothing half-written looks like a run.
  // Exit 130 on SIGINT, 143 on SIGTERM (128 + signal number, as shells report them).
  let phase: "simulate" | "write" | "done" = "simulate";
  let lastDay = 0;
  let sim: SimulationHandle | null = null;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    const code = signal === "SIGINT" ? 130 : 143;
    if (stopping) process.exit(code); // a second signal: leave now
    stopping = true;
    progress.done();
    void (async () => {
      if (phase === "simulate") {
        process.stderr.write(`\ncredence: ${signal} received on day ${fmtInt(lastDay)} of ${fmtInt(days)}; simulation stopped, nothing was written.\n`);
        await sim?.stop().catch(() => undefined);
      } else if (phase === "write") {
        // writeRunFolder builds the run in a sibling `<out>.partial-<pid>-<random>` folder and
        // only swaps it into place once complete, so <out> still holds what it held before
        // (nothing, or the previous complete run). Remove the half-written sibling; if that
        // fails, make sure it says it is incomplete.
        process.stderr.write(`\ncredence: ${signal} received while writing; ${displayPath(outDir)} was not replaced.\n`);
        await cleanPartials(outDir, `interrupted by ${signal} while writing`);
      }
      process.exit(code);
    })();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const started = Date.now();
  sim = simulateInWorker(scenario, { population: opts.population, days: opts.days, seed: opts.seed, threads: opts.threads }, (p) => {
    lastDay = p.day;
    progress.update(p);
  });
  let result: RunResult;
  try {
    result = await sim.result;
  } finally {
    progress.done();
  }
  if (stopping) return new Promise<number>(() => undefined); // the signal handler exits

  phase = "write";
  if (!opts.quiet) progress.note(`writing ${displayPath(outDir)} ...`);
  const { writeRunFolder } = await import("../io/run-folder.js");
  const manifest = await writeRunFolder(result, outDir, { version, scenarioPath: resolve(file) });
  if (stopping) return new Promise<number>(() => undefined);
  phase = "done";
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);

  const summary: Summary = manifest.summary ?? result.summary;
  const stats: RunStats = manifest.stats ?? result.stats;
  const failed = summary.targets.filter((t) => !t.pass);
  const run = displayPath(outDir);

  if (opts.json) {
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
  if (failed.length && opts.json) process.stderr.write(`credence: ${failed.length} of ${summary.targets.length} targets failed\n`);
  return 0;
}

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
  const [{ readManifest }, { queryRows }] = await Promise.all([import("../io/run-folder.js"), import("../io/duckdb.js")]);
  try {
    const x = await loadExplanation(runDir, opts.agent, { readManifest, queryRows });
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
      const m = /^name:\s*["']?([^"'\s#]+)/m.exec(readFileSync(path, "utf8"));
      if (m) name = m[1];
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
