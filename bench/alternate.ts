// Two builds of Credence, back to back: on a shared machine whose speed drifts by half within
// the hour, only runs taken alternately compare code. Usage:
//   git worktree add /tmp/before <commit> && (cd /tmp/before && npm install && npx tsc)
//   node dist/bench/alternate.js /tmp/before/dist [--runs 3] [--days 365] [--population N] [--threads 2] [--seed 7] [--scenario FILE]
// Both builds read the same scenario file (default: this build's china-2018.yaml): when the schema
// has grown since, give the older build's file, which both can read.
// Runs this build and the other one in turn, each run in a process of its own, and prints the
// simulation time of every run and the median of each build.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";

const arg = (name: string, fallback: string): string => {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 && k + 1 < process.argv.length ? process.argv[k + 1] : fallback;
};

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const other = process.argv[2] && !process.argv[2].startsWith("--") ? path.resolve(process.argv[2]) : undefined;
if (!other || !existsSync(path.join(other, "src/index.js"))) {
  console.error("usage: node dist/bench/alternate.js <other build's dist folder> [--runs 3] [--days 365] [--population N] [--threads 2] [--seed 7] [--scenario FILE]");
  console.error(other ? `no src/index.js under ${other}: is it a built dist folder?` : "the other build's dist folder is missing");
  process.exit(2);
}
const runs = Number(arg("runs", "3"));
const options = { seed: Number(arg("seed", "7")), population: Number(arg("population", "1000000")), days: Number(arg("days", "365")), threads: Number(arg("threads", "2")) };
const scenario = path.resolve(arg("scenario", path.resolve(here, "..", "scenarios/china-2018.yaml")));

// The child's script, in a file: given with -e, older builds' workers inherit --input-type and cannot load.
const child = path.join(mkdtempSync(path.join(tmpdir(), "credence-alternate-")), "run.mjs");
writeFileSync(child, `
  const [dist, scenario, options] = process.argv.slice(2);
  const { simulate } = await import(dist + "/src/index.js");
  const { loadScenario } = await import(dist + "/src/scenario/load.js");
  console.log(simulate(loadScenario(scenario), JSON.parse(options)).stats.simulateSeconds);
`);

/** One run of one build, in a fresh process (so neither build warms the other's JIT or heap). */
function once(dist: string): number {
  const run = spawnSync(process.execPath, [child, pathToFileURL(dist).href, scenario, JSON.stringify(options)], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (run.status !== 0) throw new Error(`a run of ${dist} failed (exit ${run.status})`);
  return Number(run.stdout.trim());
}

const builds = { this: here, other };
const times: Record<string, number[]> = { this: [], other: [] };
console.log(`${path.basename(scenario)}, ${options.population.toLocaleString("en")} citizens x ${options.days} days, seed ${options.seed}, ${options.threads} threads; ${runs} runs each, alternating`);
for (let r = 0; r < runs; r++) {
  for (const [name, dist] of Object.entries(builds)) {
    const t = once(dist);
    times[name].push(t);
    console.log(`  ${name.padEnd(5)} ${t.toFixed(2)} s`);
  }
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
for (const name of Object.keys(builds)) console.log(`${name.padEnd(5)} median ${median(times[name]).toFixed(2)} s (${builds[name as keyof typeof builds]})`);
