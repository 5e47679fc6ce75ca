// `npm run validation`: docs/validation.md, regenerated from one run of every shipped scenario
// (seed 1, at the population size the scenario declares, for its own days). For each scenario:
// what it was fitted to (targets, calibrated parameters) beside the simulated values; the
// accounting identities its output reproduces without being fitted (analysis/identities.ts);
// shares over its period that were not targets, labelled as model outputs; and, at the top of
// the document, every target that misses and every identity that fails.
// Options: --population N (one size for every scenario) --days N --seed N.
import { join } from "node:path";
import type { Scenario } from "../src/scenario/schema.js";
import type { Summary } from "../src/model/result.js";
import { resultPool } from "../src/cli/run-pool.js";
import { writeFileAtomic } from "../src/io/atomic.js";
import { SYNTHETIC_STATEMENT } from "../src/io/synthetic.js";
import { numberAt } from "../src/scenario/paths.js";
import { dayOf } from "../src/scenario/timeline.js";
import { metricKeys, summarySpec } from "../src/metrics/summary.js";
import { checkIdentities, type Identity } from "../src/analysis/identities.js";
import { arg, root, shippedScenarios, version } from "./common.js";

const population = arg("population");
const days = arg("days");
const seed = arg("seed") ?? 1;
const pool = resultPool();
const started = Date.now();
const log = (m: string) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0)}s] ${m}\n`);

// Only the summary and the checks are kept: the tables of every run at once would not fit in memory at larger sizes.
const scenarios = shippedScenarios();
const runs = await Promise.all(scenarios.map(async ({ file, s, overlay }) => {
  const r = await pool({ scenario: s, seed, population, days });
  log(`${s.name} done`);
  return { file, s, overlay, summary: r.summary, identities: checkIdentities(r) };
}));

const num = (v: number | null | undefined) => (v == null ? "–" : v === 0 ? "0" : Number(v.toPrecision(4)).toLocaleString("en", { maximumSignificantDigits: 4 }));
const pct = (v: number) => `${Number((v * 100).toPrecision(3))}%`;
const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");
const missed = (sm: Summary) => sm.targets.filter((t) => !t.pass);
const missedChecks = (sm: Summary) => sm.checks.filter((t) => !t.pass);
const figureRows = (figures: Summary["targets"]) => [
  "| metric | published | tolerance | simulated | within | source |", "|---|---|---|---|---|---|",
  ...figures.map((t) => `| \`${t.metric}\` | ${num(t.target)} | ± ${pct(t.tolerance)} | ${num(t.simulated)} | ${t.pass ? "yes" : "**no**"} | ${cell(t.source ?? "")} |`),
];
const broken = (ids: Identity[]) => ids.filter((i) => !i.holds);

const lines: string[] = [];
lines.push("## Where it fails", "");
const failures = runs.flatMap(({ s, summary, identities }) => [
  ...missed(summary).map((t) => `- \`${s.name}\`, target \`${t.metric}\`: simulated ${num(t.simulated)}, target ${num(t.target)} ± ${pct(t.tolerance)} (${cell(t.source ?? "no source")})`),
  ...broken(identities).map((i) => `- \`${s.name}\`, identity "${i.statement}": ${i.detail}`),
  ...missedChecks(summary).map((t) => `- \`${s.name}\`, out of sample, \`${t.metric}\`: simulated ${num(t.simulated)}, published ${num(t.target)} ± ${pct(t.tolerance)} (${cell(t.source ?? "no source")})`),
]);
lines.push(...(failures.length ? failures : ["Nowhere at these sizes and this seed: every target passes and every identity holds."]));

/** The reported days, and the warm-up before them if there is one (its days are simulated, not reported). */
const period = (s: Scenario, summary: Summary) => {
  const reported = dayOf(summary.startDate, summary.endDate) + 1;
  return `${summary.startDate} to ${summary.endDate} (${reported} days${summary.startDate === s.startDate ? "" : `, after a warm-up from ${s.startDate}`})`;
};
lines.push("", "## The runs", "", "| scenario | extends | citizens | period | seed | targets passing | identities holding |", "|---|---|---|---|---|---|---|");
for (const { s, overlay, summary, identities } of runs) {
  const t = summary.targets;
  lines.push(`| [\`${s.name}\`](#${s.name}) | ${overlay ? `\`${overlay}\`` : ""} | ${summary.population.toLocaleString("en")} | ${period(s, summary)} | ${summary.seed} | ${t.length ? `${t.length - missed(summary).length} of ${t.length}` : "no targets"} | ${identities.length - broken(identities).length} of ${identities.length} |`);
}

for (const { file, s, overlay, summary, identities } of runs) {
  lines.push("", `## ${s.name}`, "", `${s.title} (\`scenarios/${file}\`${overlay ? `, extending \`${overlay}\`` : ""}): ${summary.population.toLocaleString("en")} citizens, ${period(s, summary)}, seed ${summary.seed}.`);

  lines.push("", "### What it was fitted to", "");
  if (summary.targets.length) {
    lines.push("| metric | target | tolerance | simulated | passes | source |", "|---|---|---|---|---|---|");
    for (const t of summary.targets) lines.push(`| \`${t.metric}\` | ${num(t.target)} | ± ${pct(t.tolerance)} | ${num(t.simulated)} | ${t.pass ? "yes" : "**no**"} | ${cell(t.source ?? "")} |`);
  } else {
    lines.push(overlay
      ? `No targets: a counterfactual. Its parameters are those of \`${overlay}\` (fitted there, if at all) except where this file changes them.`
      : "No targets: every rate in it is an assumption or taken from a source, none fitted here.");
  }
  lines.push(...calibration(s));

  lines.push("", "### What it reproduces that it was not fitted to", "",
    "Accounting identities, checked on this run's own daily tables and summary (`src/analysis/identities.ts`).", "",
    "| identity | result | numbers |", "|---|---|---|");
  for (const i of identities) lines.push(`| ${cell(i.statement)} | ${i.holds ? "holds" : "**fails**"} | ${cell(i.detail)} |`);

  if (summary.checks.length) {
    lines.push("", "### Published figures it was not fitted to (out of sample)", "",
      "Figures for other dates than the targets', from the scenario's `checks:`; calibrate never sees them.", "", ...figureRows(summary.checks));
  }

  lines.push(...untargetedShares(s, summary));
}

/** The calibration section of a scenario: what `credence calibrate` fitted, and the value the file holds now. */
function calibration(s: Scenario): string[] {
  const c = s.calibration;
  if (!c) return [];
  return [
    "", `Calibrated by \`credence calibrate\` (${c.population.toLocaleString("en")} citizens per evaluation, seeds ${c.seeds.join(", ")}, at most ${c.evaluations} evaluations) over these parameters, to the targets above:`, "",
    "| parameter | range searched | value in the file |", "|---|---|---|",
    ...c.parameters.map((p) => `| \`${p.path}\` | ${num(p.min)} to ${num(p.max)} | ${num(numberAt(s, p.path).value)} |`),
  ];
}

/** Every share the summary carries that no target names: what the model claims beyond its fit. */
function untargetedShares(s: Scenario, summary: Summary): string[] {
  const targeted = new Set(s.targets.map((t) => t.metric));
  const keys = metricKeys(s).filter((k) => !targeted.has(k) && summarySpec(k)!.unit.startsWith("share of"));
  return [
    "", `### Model outputs over ${summary.startDate} to ${summary.endDate} that were not targets`, "",
    "**Model outputs, not validations**: what this run claims beyond its fit, at this size and seed. None was compared with a published figure. – marks a share of nobody (an empty denominator).", "",
    "| metric | value | unit | what it is |", "|---|---|---|---|",
    ...keys.map((k) => `| \`${k}\` | ${num(summary.metrics[k])} | ${summarySpec(k)!.unit} | ${summarySpec(k)!.description} |`),
  ];
}

const seconds = ((Date.now() - started) / 1000).toFixed(0);
const command = ["npm run validation", ...(process.argv.length > 2 ? ["--", ...process.argv.slice(2)] : [])].join(" ");
const sizes = population ? `${population.toLocaleString("en")} citizens each` : "each at the population size its file declares";
const md = `# Validation

Generated by \`${command}\` (credence ${version()}, ${new Date().toISOString().slice(0, 10)}, ${seconds} s on this machine): one run of every scenario in \`scenarios/\`, seed ${seed}, ${sizes}, over ${days ? `${days} days` : "its own days"}.

${SYNTHETIC_STATEMENT}

For each scenario, four kinds of statement, kept apart:

1. **What it was fitted to**: its targets (published figures or stated assumptions) and the parameters calibration fitted to them, beside the simulated values. Passing these shows the fit, not that the model is right.
2. **What it reproduces that it was not fitted to**: accounting identities that the run's own output must satisfy whatever the parameters. A failure is a bookkeeping error in the model or its outputs.
3. **Published figures it was not fitted to**: where a scenario lists them (\`checks:\`), figures for other dates than its targets', beside the simulated values: the out-of-sample test.
4. **Model outputs that were not targets**: shares over the scenario's period that nothing was fitted to, clearly not validations: what the model claims beyond its fit.

${lines.join("\n")}
`;
writeFileAtomic(join(root, "docs", "validation.md"), md);
log(`wrote docs/validation.md (${failures.length} failures)`);
