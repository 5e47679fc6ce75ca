// `credence calibrate` (fit a scenario's marked parameters to its targets) and `credence
// compare` (two regimes side by side, with intervals over replicates).
import type { Command } from "commander";
import { existsSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { calibrate, defaultRangeEvaluations, type CalibrationResult } from "../calibrate/calibrate.js";
import { calibratedYaml, calibrationReport, rangeSummary, rangeText, writeCalibration } from "../calibrate/write.js";
import { compareSummaries, sharedMetrics, type Estimate, type MetricComparison } from "../analysis/compare.js";
import type { Summary } from "../model/result.js";
import { readManifest } from "../io/run-folder.js";
import { loadScenario, MAX_SCENARIO_BYTES, ScenarioError } from "../scenario/load.js";
import { readUserText } from "../io/read-file.js";
import { CliError, displayPath, intArg, printScenarioError, seedListArg, toJson } from "./common.js";
import { fmtDuration, renderTargets, table } from "./format.js";
import { defaultWorkers, summaryPool } from "./run-pool.js";

function loadOrExplain(file: string) {
  try {
    return loadScenario(file);
  } catch (e) {
    if (e instanceof ScenarioError) {
      printScenarioError(e, process.stderr);
      throw new CliError(`${displayPath(file)} is not a valid scenario`, 2);
    }
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// credence calibrate

interface CalibrateOpts { out?: string; evaluations?: number; rangeEvaluations?: number; population?: number; seeds?: number[]; workers: number; quiet?: boolean }

async function calibrateCommand(file: string, opts: CalibrateOpts): Promise<number> {
  const s = loadOrExplain(file);
  if (!s.calibration) throw new CliError(`${displayPath(file)} has no calibration section (calibration.parameters names what to fit)`);
  if (opts.evaluations) s.calibration.evaluations = opts.evaluations;
  if (opts.rangeEvaluations !== undefined) s.calibration.rangeEvaluations = opts.rangeEvaluations;
  if (opts.population) s.calibration.population = opts.population;
  if (opts.seeds) s.calibration.seeds = opts.seeds;
  const cal = s.calibration;
  const rangeBudget = cal.rangeEvaluations ?? defaultRangeEvaluations(cal.parameters.length);
  const out = resolve(opts.out ?? join(dirname(file), `${s.name}.calibrated.yaml`));
  const reportFile = out.replace(/\.ya?ml$/, "") + ".calibration.md";
  // Fail now, not after the fit, if a fitted value could not be written into the file.
  const date = new Date().toISOString().slice(0, 10);
  const unchanged = cal.parameters.map((p) => ({ ...p, before: 0, after: 0 }));
  const sourceText = readUserText(file, { maxBytes: MAX_SCENARIO_BYTES });
  try {
    calibratedYaml(sourceText, { parameters: unchanged } as unknown as CalibrationResult, date, s);
  } catch (e) {
    throw new CliError(`cannot calibrate ${displayPath(file)}: ${(e as Error).message}`);
  }
  const pool = summaryPool(opts.workers);
  process.stderr.write(
    `calibrating ${s.name}: ${cal.parameters.length} parameters, ${s.targets.length} targets, at most ${cal.evaluations} evaluations ` +
      `then at most ${rangeBudget} for the ranges, each the mean of seeds ${cal.seeds.join(", ")} at ${cal.population.toLocaleString("en")} citizens\n`,
  );
  const t0 = Date.now();
  let rangeDone = 0;
  const result = await calibrate(s, (point, seed, population, days) => pool({ scenario: point, seed, population, days }), (e) => {
    if (opts.quiet) return;
    const passing = e.targets.filter((t) => t.pass).length;
    const label = e.stage === "fit" ? `#${String(e.evaluation).padStart(3)}` : `range ${++rangeDone}/${rangeBudget}`;
    process.stderr.write(`  ${label}  loss ${e.loss.toFixed(3).padStart(9)}  ${passing}/${e.targets.length} pass  [${e.values.join(", ")}]  ${fmtDuration((Date.now() - t0) / 1000)}\n`);
  });
  const report = calibrationReport(s.name, result, { population: cal.population, days: cal.days ?? s.days, seeds: cal.seeds });
  writeCalibration(sourceText, s, out, reportFile, result, report, date);
  process.stdout.write(
    [
      `Parameters (the mean of seeds ${cal.seeds.join(", ")})`,
      table(
        ["parameter", "before", "best", "every target holds", "limited by"],
        result.parameters.map((p, k) => {
          const r = rangeText(result.range, k);
          return [p.path, String(p.before), String(p.after), r.holds, r.limits];
        }),
        { align: ["left", "right", "right", "right", "left"] },
      ),
      "", rangeSummary(result.range),
      "", "Targets before", renderTargets(result.before.targets),
      "", "Targets after", renderTargets(result.after.targets),
      "", `Wrote ${displayPath(out)} and ${displayPath(reportFile)} (${result.evaluations} evaluations, ${fmtDuration(result.seconds)}).`,
    ].join("\n") + "\n",
  );
  return result.after.targets.every((t) => t.pass) ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// credence compare

interface CompareOpts { replicates: number; population?: number; days?: number; seed: number; workers: number; all?: boolean; metrics?: string; json?: boolean }

/** The complete runs of a side: one run folder, a folder of run folders (replicates), or a scenario file to run. */
async function sideSummaries(arg: string, opts: CompareOpts, pool: ReturnType<typeof summaryPool>): Promise<{ label: string; summaries: Summary[] }> {
  if (!existsSync(arg)) throw new CliError(`${arg}: no such run folder or scenario file`);
  if (statSync(arg).isFile()) {
    const s = loadOrExplain(arg);
    const seeds = Array.from({ length: opts.replicates }, (_, k) => opts.seed + k);
    const summaries = await Promise.all(seeds.map((seed) => pool({ scenario: s, seed, population: opts.population, days: opts.days })));
    return { label: s.name, summaries };
  }
  const folders = existsSync(join(arg, "manifest.json"))
    ? [arg]
    : readdirSync(arg).map((e) => join(arg, e)).filter((p) => existsSync(join(p, "manifest.json"))).sort();
  const summaries: Summary[] = [];
  for (const f of folders) {
    const m = readManifest(f, { allowIncomplete: true }); // an interrupted run among replicates is skipped, not fatal
    if (m.status !== "complete" || !m.summary) {
      process.stderr.write(`credence: skipping ${displayPath(f)}: not a complete run (${m.status}${m.reason ? `: ${m.reason}` : ""})\n`);
      continue;
    }
    summaries.push(m.summary);
  }
  if (!summaries.length) throw new CliError(`${displayPath(arg)}: no complete run in it (a run folder, a folder of run folders, or a scenario file)`);
  return { label: basename(resolve(arg)), summaries };
}

const sig = (v: number) => (v === 0 ? "0" : Math.abs(v) >= 100 ? v.toFixed(1) : Number(v.toPrecision(3)).toString());
const withInterval = (e: Estimate) => (e.n < 2 ? sig(e.mean) : `${sig(e.mean)} [${sig(e.lo)}, ${sig(e.hi)}]`);

export function renderComparison(rows: MetricComparison[], a: string, b: string): string {
  return table(
    ["metric", a, b, `${b} - ${a}`, "change"],
    rows.map((r) => [
      r.metric, withInterval(r.a), withInterval(r.b), withInterval(r.diff) + (r.significant ? " *" : ""),
      r.relative === null ? "" : `${r.relative >= 0 ? "+" : ""}${(r.relative * 100).toFixed(0)}%`,
    ]),
    { align: ["left", "right", "right", "right", "right"] },
  );
}

async function compareCommand(sideA: string, sideB: string, opts: CompareOpts): Promise<number> {
  const pool = summaryPool(opts.workers);
  const [A, B] = await Promise.all([sideSummaries(sideA, opts, pool), sideSummaries(sideB, opts, pool)]);
  const labelB = B.label === A.label ? `${B.label} (B)` : B.label;
  const metrics = opts.metrics ? opts.metrics.split(",").map((m) => m.trim()) : opts.all ? sharedMetrics(A.summaries, B.summaries) : undefined;
  const rows = compareSummaries(A.summaries, B.summaries, metrics);
  if (opts.json) {
    process.stdout.write(toJson({ a: { label: A.label, replicates: A.summaries.length }, b: { label: labelB, replicates: B.summaries.length }, metrics: rows }) + "\n");
    return 0;
  }
  const n = Math.min(A.summaries.length, B.summaries.length);
  process.stdout.write(
    `${A.label}: ${A.summaries.length} replicate(s); ${labelB}: ${B.summaries.length} replicate(s). ` +
      (n >= 2 ? "Means with 95% intervals over replicates; * marks a difference whose interval excludes 0 (Welch).\n\n"
        : "Single runs: no intervals (use several seeds: --replicates N with scenario files, or folders of runs).\n\n") +
      renderComparison(rows, A.label, labelB) + "\n",
  );
  return 0;
}

export function registerAnalysisCommands(cmd: Command): void {
  const setExit = (code: number) => {
    process.exitCode = code;
  };
  cmd
    .command("calibrate")
    .description("fit the parameters under the scenario's `calibration:` to its targets; write the fitted scenario and a report")
    .argument("<scenario>", "scenario YAML file with a calibration section")
    .option("--out <file>", "fitted scenario file (default: <name>.calibrated.yaml beside it; the report goes beside that)")
    .option("--evaluations <n>", "most evaluations (overrides calibration.evaluations)", intArg(1, 10_000))
    .option("--range-evaluations <n>", "most evaluations for the ranges where every target holds, 0 to skip (overrides calibration.rangeEvaluations)", intArg(0, 10_000))
    .option("--population <n>", "citizens per evaluation (overrides calibration.population)", intArg(100, 10_000_000))
    .option("--seeds <list>", "comma-separated seeds averaged in each evaluation (overrides calibration.seeds)", seedListArg)
    .option("--workers <n>", "simulations at once", intArg(1, 256), defaultWorkers())
    .option("-q, --quiet", "no line per evaluation")
    .action(async (file: string, opts: CalibrateOpts) => setExit(await calibrateCommand(file, opts)));
  cmd
    .command("compare")
    .description("two regimes side by side: headline metrics, differences and 95% intervals over replicates")
    .argument("<a>", "run folder, folder of run folders (replicates), or scenario file")
    .argument("<b>", "the same for the other side")
    .option("--replicates <n>", "seeds per side when a side is a scenario file", intArg(1, 1000), 5)
    .option("--seed <n>", "first seed for scenario sides", intArg(0, 4_294_967_295), 1)
    .option("--population <n>", "citizens, for scenario sides", intArg(1, 2_000_000_000))
    .option("--days <n>", "days, for scenario sides", intArg(1, 36_500))
    .option("--workers <n>", "simulations at once", intArg(1, 256), defaultWorkers())
    .option("--metrics <list>", "comma-separated metric keys (default: the headline metrics)")
    .option("--all", "every metric both sides have")
    .option("--json", "print the comparison as JSON")
    .action(async (a: string, b: string, opts: CompareOpts) => setExit(await compareCommand(a, b, opts)));
}
