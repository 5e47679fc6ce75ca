// `npm run reference`: the README's tables of the scenarios in the box, regenerated from runs.
// 1. key figures and targets of every base scenario from one run (seed 1): the two national
//    readings at 1% of China's 1.4 B (14 M citizens), the others at their own population size;
// 2. the reported against the documented reading of China 2018;
// 3. china-2018 against each counterfactual, with 95% intervals over replicates.
// Writes docs/reference-results.md and replaces the block between the reference markers of
// README.md. Options: --replicates N (default 5) --population N (override every size, the 1%
// runs included: a quick check) --days N.
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import type { Scenario } from "../src/scenario/schema.js";
import type { Summary } from "../src/model/result.js";
import { compareSummaries, type Estimate } from "../src/analysis/compare.js";
import { summaryPool } from "../src/cli/run-pool.js";
import { writeFileAtomic } from "../src/io/atomic.js";
import { arg, root, shippedScenarios, version } from "./common.js";

const replicates = arg("replicates") ?? 5;
const population = arg("population");
const days = arg("days");
const pool = summaryPool();

const all = shippedScenarios();
const started = Date.now();
const runs = (s: Scenario, n: number) => Promise.all(Array.from({ length: n }, (_, k) => pool({ scenario: s, seed: 1 + k, population, days })));
const log = (m: string) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0)}s] ${m}\n`);

const pct = (v: number | null | undefined) => (v == null ? "—" : v === 0 ? "0" : `${(v * 100).toFixed(v < 0.001 ? 3 : v < 0.01 ? 2 : 1)}%`);
const perK = (v: number | null | undefined) => (v == null ? "—" : (v * 1000).toFixed(v * 1000 < 1 ? 2 : 1));
const sig = (v: number) => (v === 0 ? "0" : Number(v.toPrecision(2)).toString());
const interval = (e: Estimate, f: (v: number) => string) => (e.n < 2 ? f(e.mean) : `${f(e.mean)} [${f(e.lo)}, ${f(e.hi)}]`);

// 1. Every base scenario once for its key figures (the national readings at 1% of 1.4 B), and
//    the national ones again at their own size, seeds 1..N, for the comparisons.
const ONE_PERCENT = 14_000_000;
const national = (s: Scenario) => s.name.startsWith("china-2018");
// The counterfactuals extend china-2018; every other scenario is a base (china-2018-documented extends the court list's history).
const isCounterfactual = (x: (typeof all)[number]) => x.overlay === "china-2018.yaml";
const bases = all.filter((x) => !isCounterfactual(x));
const keyRuns = new Map<string, Summary>();
const baseRuns = new Map<string, Summary[]>();
await Promise.all(bases.map(async ({ s }) => {
  const size = population ?? (national(s) ? ONE_PERCENT : s.population.size);
  keyRuns.set(s.name, await pool({ scenario: s, seed: 1, population: size, days }));
  log(`${s.name} at ${size.toLocaleString("en")} done`);
  if (national(s)) baseRuns.set(s.name, await runs(s, replicates));
}));
const overlays = all.filter(isCounterfactual);
const overlayRuns = new Map<string, Summary[]>();
await Promise.all(overlays.map(async ({ s }) => {
  overlayRuns.set(s.name, await runs(s, replicates));
  log(`${s.name} done`);
}));

const lines: string[] = [];
lines.push(
  `Key figures of one run of each scenario (seed 1; ${days ?? "each scenario's"} days): the national readings at 1% of China's 1.4 billion, the others at their own population size. Rates, not counts, are compared.`,
  "",
  "| scenario | what it models | citizens | blacklisted | of them wrongly | redlisted | blocked flights per 1,000 | chilling | targets passing |",
  "|---|---|---|---|---|---|---|---|---|",
);
for (const { s } of bases) {
  const m = keyRuns.get(s.name)!;
  const wrong = m.metrics.blacklisted_share ? m.metrics.wrongful_listings_per_capita! / m.metrics.blacklisted_share : null;
  const pass = m.targets.filter((t) => t.pass).length;
  lines.push(`| \`${s.name}\` | ${s.title} | ${m.population.toLocaleString("en")} | ${pct(m.metrics.blacklisted_share)} | ${pct(wrong)} | ${pct(m.metrics.redlisted_share)} | ${perK(m.metrics["blocked_per_capita.flights"])} | ${pct(m.metrics.chilling)} | ${m.targets.length ? `${pass} of ${m.targets.length}` : "no targets"} |`);
}

const HEAD: [string, string, (v: number) => string][] = [
  ["wrongful_listings_per_capita", "wrongly blacklisted per 1,000", (v) => sig(v * 1000)],
  ["blacklisted_share", "blacklisted per 1,000", (v) => sig(v * 1000)],
  ["blocked_per_capita.flights", "blocked flights per 1,000", (v) => sig(v * 1000)],
  ["blocked_per_capita.trains", "blocked trains per 1,000", (v) => sig(v * 1000)],
  ["chilling", "chilling", (v) => `${sig(v * 100)}%`],
  ["silenced", "silenced by bans", (v) => `${sig(v * 100)}%`],
  ["isolation_of_listed", "isolation of the listed", (v) => `${sig(v * 100)}%`],
];
const compareTable = (a: Summary[], rows: { name: string; b: Summary[] }[]) => {
  const out = [`| scenario | ${HEAD.map((h) => h[1]).join(" | ")} |`, `|---|${HEAD.map(() => "---").join("|")}|`];
  out.push(`| \`china-2018\` (reference) | ${HEAD.map(([k, , f]) => interval(compareSummaries(a, a, [k])[0]?.a ?? { mean: NaN, lo: NaN, hi: NaN, n: 0 }, f)).join(" | ")} |`);
  for (const r of rows) {
    const cmp = compareSummaries(a, r.b, HEAD.map((h) => h[0]));
    out.push(`| \`${r.name}\` | ${HEAD.map(([k, , f]) => {
      const c = cmp.find((x) => x.metric === k);
      if (!c) return "-";
      const change = c.diff.n < 2 ? "" : ` (${c.diff.mean >= 0 ? "+" : ""}${f(c.diff.mean)}${c.significant ? "*" : ""})`;
      return `${f(c.b.mean)}${change}`;
    }).join(" | ")} |`);
  }
  return out;
};

const reference = baseRuns.get("china-2018");
const documented = baseRuns.get("china-2018-documented");
if (reference && overlays.length) {
  lines.push("", `china-2018 against each counterfactual, ${replicates} seeds each at ${(population ?? reference[0].population).toLocaleString("en")} citizens (mean [95% interval] for the reference; for each counterfactual its mean and the difference from the reference, * where the difference's 95% interval excludes 0):`, "");
  lines.push(...compareTable(reference, overlays.map((o) => ({ name: o.s.name, b: overlayRuns.get(o.s.name)! }))));
}
// The README takes the tables above; the comparison of the two readings is in docs/reference-results.md only.
const readmeBody = lines.join("\n");
if (reference && documented) {
  lines.push("", `The reported and the documented readings of China 2018, ${replicates} seeds each at ${(population ?? reference[0].population).toLocaleString("en")} citizens (mean, and the difference from the reported reading; * marks a difference whose 95% interval excludes 0):`, "");
  lines.push(...compareTable(reference, [{ name: "china-2018-documented", b: documented }]));
}
const body = lines.join("\n");
const md = `# Reference results\n\nGenerated by \`npm run reference\` (credence ${version()}, ${new Date().toISOString().slice(0, 10)}, ${((Date.now() - started) / 1000).toFixed(0)} s on this machine).\n\n${body}\n`;
writeFileAtomic(join(root, "docs", "reference-results.md"), md);
const readme = join(root, "README.md");
const START = "<!-- reference:start -->", END = "<!-- reference:end -->";
if (existsSync(readme)) {
  const text = readFileSync(readme, "utf8");
  const a = text.indexOf(START), b = text.indexOf(END);
  if (a >= 0 && b > a) writeFileAtomic(readme, text.slice(0, a + START.length) + "\n" + readmeBody + "\n" + text.slice(b));
}
process.stdout.write(md);
