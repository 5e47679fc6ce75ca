// `npm run bench`: the reference national run at 1 M citizens for a year, reported as
// agent-days per second, observed events per second, bytes of state per citizen and peak
// memory, beside the figures of the previous saved run (bench/last.json) for comparison.
// Options: --population N --days N --scenario FILE --save (store these figures as the new reference).
import { readFileSync, existsSync } from "node:fs";
import { writeFileAtomic } from "../src/io/atomic.js";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { loadScenario } from "../src/scenario/load.js";
import { simulate } from "../src/engine/simulate.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const arg = (name: string, fallback: string) => {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? process.argv[k + 1] : fallback;
};
const scenarioPath = arg("scenario", join(root, "scenarios", "china-2018.yaml"));
const population = Number(arg("population", "1000000"));
const days = Number(arg("days", "365"));
const lastPath = join(root, "bench", "last.json");

const result = simulate(loadScenario(scenarioPath), { seed: 1, population, days });
const st = result.stats;
const figures = {
  scenario: result.scenario.name,
  population,
  days,
  simulateSeconds: +st.simulateSeconds.toFixed(2),
  wallSeconds: +st.wallSeconds.toFixed(2),
  agentDaysPerSecond: Math.round(st.agentDaysPerSecond),
  eventsPerSecond: Math.round(st.eventsPerSecond),
  bytesPerCitizen: +st.stateBytesPerCitizen.toFixed(1),
  peakRssMiB: Math.round(st.peakRssBytes / 2 ** 20),
  node: process.version,
  date: new Date().toISOString(),
};
const previous = existsSync(lastPath) ? JSON.parse(readFileSync(lastPath, "utf8")) : undefined;
const rows: [string, keyof typeof figures, (v: number) => string][] = [
  ["agent-days / s", "agentDaysPerSecond", (v) => (v / 1e6).toFixed(2) + " M"],
  ["observed events / s", "eventsPerSecond", (v) => (v / 1e3).toFixed(0) + " k"],
  ["bytes of state / citizen", "bytesPerCitizen", (v) => v.toFixed(1)],
  ["peak memory", "peakRssMiB", (v) => v + " MiB"],
  ["simulation time", "simulateSeconds", (v) => v.toFixed(2) + " s"],
  ["wall time (with population and tables)", "wallSeconds", (v) => v.toFixed(2) + " s"],
];
console.log(`${figures.scenario}: ${population.toLocaleString("en")} citizens x ${days} days (seed 1)`);
for (const [label, key, fmt] of rows) {
  const now = figures[key] as number;
  const before = previous && previous.population === population && previous.days === days ? (previous[key] as number) : undefined;
  const change = before ? `  (previous ${fmt(before)}, ${now >= before ? "+" : ""}${(((now - before) / before) * 100).toFixed(1)}%)` : "";
  console.log(`  ${label.padEnd(40)} ${fmt(now).padStart(12)}${change}`);
}
console.log("  time per phase:");
for (const [phase, seconds] of Object.entries(st.phaseSeconds).sort((a, b) => b[1] - a[1])) {
  console.log(`    ${phase.padEnd(14)} ${seconds.toFixed(2).padStart(6)} s  ${((seconds / st.simulateSeconds) * 100).toFixed(0).padStart(3)}%`);
}
if (process.argv.includes("--save")) {
  writeFileAtomic(lastPath, JSON.stringify(figures, null, 2) + "\n");
  console.log(`saved as the reference in ${lastPath}`);
}
