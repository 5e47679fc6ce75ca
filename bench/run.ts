// `npm run bench`: the reference national run at 1 M citizens for a year, reported as
// agent-days per second, observed events per second, bytes of state per citizen and peak
// memory, beside the figures of the previous saved run (bench/last.json) for comparison.
// Options: --population N --days N --scenario FILE --threads N --save (store these figures as
// the new reference); --scale [--sizes 1e6,1e7,1e8] runs each size in its own process and prints
// the curve (agent-days per second should stay flat if cost grows linearly with size).
import { readFileSync, existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { writeFileAtomic } from "../src/io/atomic.js";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { loadScenario, reportedYear } from "../src/scenario/load.js";
import { simulate } from "../src/model/simulate.js";
import type { Progress } from "../src/model/result.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const arg = (name: string, fallback: string) => {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? process.argv[k + 1] : fallback;
};
const scenarioPath = arg("scenario", join(root, "scenarios", "china-2018.yaml"));
const population = Number(arg("population", "1000000"));
const days = Number(arg("days", "365"));
const threads = process.argv.includes("--threads") ? Number(arg("threads", "1")) : undefined;
const lastPath = join(root, "bench", "last.json");

interface Figures {
  scenario: string;
  population: number;
  days: number;
  threads: number;
  simulateSeconds: number;
  wallSeconds: number;
  /** Of the wall time: the population, graph and mechanisms' state before day 1; the summary and tables after the last. */
  buildSeconds: number;
  tablesSeconds: number;
  agentDaysPerSecond: number;
  eventsPerSecond: number;
  bytesPerCitizen: number;
  peakRssMiB: number;
  phaseSeconds: Record<string, number>;
  workerWaitSeconds: number;
  /** Most memory seen backed by 2 MB pages during the run (see hugePagesMiB). */
  hugePagesMiB: number;
  node: string;
  date: string;
}

/**
 * Memory the kernel backs with transparent huge pages now (Linux; 0 elsewhere). It tells a run with
 * glibc's huge-page tunable, which `npm run bench` sets, from one without: a few megabytes of
 * V8's own heap at most without it.
 */
function hugePagesMiB(): number {
  try {
    const kb = /AnonHugePages:\s+(\d+) kB/.exec(readFileSync("/proc/self/smaps_rollup", "utf8"));
    return kb ? Math.round(Number(kb[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

function measure(): Figures {
  let huge = 0;
  const onProgress = (p: Progress) => {
    if (p.phase === "simulate" && (p.day % 30 === 0 || p.day === p.days)) huge = Math.max(huge, hugePagesMiB());
  };
  // A warm-started scenario is measured on its reported year's rules (china-2018: 2018's), as before it had a warm-up.
  const result = simulate(reportedYear(loadScenario(scenarioPath)), { seed: 1, population, days, threads, onProgress });
  const st = result.stats;
  return {
    scenario: result.scenario.name,
    population,
    days,
    threads: st.threads,
    simulateSeconds: +st.simulateSeconds.toFixed(2),
    wallSeconds: +st.wallSeconds.toFixed(2),
    buildSeconds: +st.buildSeconds.toFixed(2),
    tablesSeconds: +st.tablesSeconds.toFixed(2),
    agentDaysPerSecond: Math.round(st.agentDaysPerSecond),
    eventsPerSecond: Math.round(st.eventsPerSecond),
    bytesPerCitizen: +st.stateBytesPerCitizen.toFixed(1),
    peakRssMiB: Math.round(st.peakRssBytes / 2 ** 20),
    phaseSeconds: Object.fromEntries(Object.entries(st.phaseSeconds).map(([k, v]) => [k, +v.toFixed(2)])),
    workerWaitSeconds: +st.workerWaitSeconds.toFixed(2),
    hugePagesMiB: huge,
    node: process.version,
    date: new Date().toISOString(),
  };
}

function report(figures: Figures): void {
  const previous = existsSync(lastPath) ? JSON.parse(readFileSync(lastPath, "utf8")) : undefined;
  const rows: [string, keyof Figures, (v: number) => string][] = [
    ["agent-days / s", "agentDaysPerSecond", (v) => (v / 1e6).toFixed(2) + " M"],
    ["observed events / s", "eventsPerSecond", (v) => (v / 1e3).toFixed(0) + " k"],
    ["bytes of state / citizen", "bytesPerCitizen", (v) => v.toFixed(1)],
    ["peak memory", "peakRssMiB", (v) => v + " MiB"],
    ["simulation time", "simulateSeconds", (v) => v.toFixed(2) + " s"],
    ["wall time (with population and tables)", "wallSeconds", (v) => v.toFixed(2) + " s"],
    ["  of which building the population", "buildSeconds", (v) => v.toFixed(2) + " s"],
    ["  of which summary and tables", "tablesSeconds", (v) => v.toFixed(2) + " s"],
  ];
  console.log(`${figures.scenario}: ${population.toLocaleString("en")} citizens x ${days} days (seed 1), ${figures.threads} thread${figures.threads > 1 ? "s" : ""}`);
  for (const [label, key, fmt] of rows) {
    const now = figures[key] as number;
    const comparable = previous && previous.population === population && previous.days === days;
    const before = comparable ? (previous[key] as number) : undefined;
    const change = before ? `  (previous ${fmt(before)}, ${now >= before ? "+" : ""}${(((now - before) / before) * 100).toFixed(1)}%)` : "";
    console.log(`  ${label.padEnd(40)} ${fmt(now).padStart(12)}${change}`);
  }
  console.log("  time per phase:");
  for (const [phase, seconds] of Object.entries(figures.phaseSeconds).sort((a, b) => b[1] - a[1])) {
    console.log(`    ${phase.padEnd(14)} ${seconds.toFixed(2).padStart(6)} s  ${((seconds / figures.simulateSeconds) * 100).toFixed(0).padStart(3)}%`);
  }
  const waited = figures.workerWaitSeconds;
  console.log(`  of which the calling thread waited for workers ${waited.toFixed(2)} s (${((waited / figures.simulateSeconds) * 100).toFixed(0)}%)`);
  const tunable = process.env.GLIBC_TUNABLES ?? "not set";
  console.log(`  memory on 2 MB pages ${figures.hugePagesMiB} MiB of ${figures.peakRssMiB} MiB (GLIBC_TUNABLES: ${tunable})`);
  if (process.platform === "linux" && figures.hugePagesMiB === 0) {
    console.log("  (no huge pages: `npm run bench` starts Node with GLIBC_TUNABLES=glibc.malloc.hugetlb=1; see docs/performance.md, Huge pages)");
  }
}

/** Each size in a child process of its own: peak memory is then that size's, and one failure loses one row. */
function scale(): void {
  const sizes = arg("sizes", "1e6,1e7,1e8").split(",").map(Number);
  console.log(`scale: china-2018-like run (${scenarioPath}), ${days} days per size, seed 1`);
  console.log(`  ${"citizens".padStart(12)} ${"threads".padStart(7)} ${"simulate".padStart(9)} ${"wall".padStart(9)} ${"agent-days/s".padStart(13)} ${"bytes/citizen".padStart(13)} ${"peak memory".padStart(12)}`);
  for (const size of sizes) {
    const args = [process.argv[1], "--json", "--population", String(size), "--days", String(days), "--scenario", scenarioPath];
    if (threads) args.push("--threads", String(threads));
    const child = spawnSync(process.execPath, ["--max-old-space-size=8192", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    if (child.status !== 0) {
      console.log(`  ${size.toLocaleString("en").padStart(12)}  failed (exit ${child.status ?? child.signal})`);
      continue;
    }
    const f = JSON.parse(child.stdout) as Figures;
    console.log(
      `  ${size.toLocaleString("en").padStart(12)} ${String(f.threads).padStart(7)} ${(f.simulateSeconds.toFixed(1) + " s").padStart(9)} ${(f.wallSeconds.toFixed(1) + " s").padStart(9)} ` +
        `${((f.agentDaysPerSecond / 1e6).toFixed(2) + " M").padStart(13)} ${f.bytesPerCitizen.toFixed(1).padStart(13)} ${(f.peakRssMiB + " MiB").padStart(12)}`,
    );
  }
}

if (process.argv.includes("--scale")) {
  scale();
} else if (process.argv.includes("--json")) {
  console.log(JSON.stringify(measure()));
} else {
  const figures = measure();
  report(figures);
  if (process.argv.includes("--save")) {
    writeFileAtomic(lastPath, JSON.stringify(figures, null, 2) + "\n");
    console.log(`saved as the reference in ${lastPath}`);
  }
}
