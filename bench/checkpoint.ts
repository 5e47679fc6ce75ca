// `npm run bench:checkpoint [-- --population N --days D --at DAY --scenario FILE]`: the size of a
// checkpoint and the time to take, write and restore one (defaults: china-2018, 1,000,000
// citizens, a 365-day run checkpointed after day 180).
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { simulate } from "../src/model/simulate.js";
import { SimulationStopped } from "../src/engine/checkpoint.js";
import { writeFileAtomic } from "../src/io/atomic.js";
import { loadScenario } from "../src/scenario/load.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const arg = (name: string, fallback: string) => {
  const k = process.argv.indexOf(`--${name}`);
  return k < 0 ? fallback : process.argv[k + 1];
};
const population = Number(arg("population", "1000000"));
const days = Number(arg("days", "365"));
const at = Number(arg("at", "180"));
const scenario = loadScenario(arg("scenario", join(root, "scenarios/china-2018.yaml")));
const options = { seed: 7, population, days, checkpointKey: randomBytes(32) };

/** Runs until stopped after `stopAfter` days; returns the seconds until the stop and the checkpoint taken. */
function runTo(stopAfter: number, resume?: Uint8Array): { seconds: number; saveSeconds: number; bytes?: Uint8Array } {
  const t0 = performance.now();
  let calls = 0, dayDone = 0, bytes: Uint8Array | undefined, saveSeconds = 0;
  try {
    simulate(scenario, {
      ...options,
      resume,
      // onProgress runs just before the checkpoint is taken, write just after: the gap is the save.
      onProgress: (p) => { if (p.phase === "simulate") dayDone = performance.now(); },
      checkpoint: { everyDays: days + 1, write: (b) => { saveSeconds = (performance.now() - dayDone) / 1000; bytes = b; } },
      shouldStop: () => calls++ === stopAfter,
    });
  } catch (e) {
    if (!(e instanceof SimulationStopped)) throw e;
  }
  return { seconds: (performance.now() - t0) / 1000, saveSeconds, bytes };
}

const taken = runTo(at);
const bytes = taken.bytes!;
const dir = mkdtempSync(join(tmpdir(), "credence-bench-checkpoint-"));
const t1 = performance.now();
writeFileAtomic(join(dir, "checkpoint.bin"), bytes);
const writeSeconds = (performance.now() - t1) / 1000;
rmSync(dir, { recursive: true, force: true });
// Restoring = building the population again, then reading the checkpoint into it. The restore is
// the difference of two runs of a few seconds, small beside their noise (once it came out
// negative): each is run three times, alternately, and the quickest kept.
let fresh = Infinity, restored = Infinity;
for (let k = 0; k < 3; k++) {
  fresh = Math.min(fresh, runTo(0).seconds);
  restored = Math.min(restored, runTo(0, bytes).seconds);
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
console.log(`${scenario.name}, ${population.toLocaleString("en-US")} citizens, checkpoint after day ${at} of ${days}:`);
console.log(`  size                     ${mb(bytes.byteLength)} (${(bytes.byteLength / population).toFixed(0)} bytes per citizen)`);
console.log(`  take (serialize, sha256) ${taken.saveSeconds.toFixed(2)} s`);
console.log(`  write (atomic, fsync)    ${writeSeconds.toFixed(2)} s`);
console.log(`  restore (verify, read)   ${(restored - fresh).toFixed(2)} s  (plus ${fresh.toFixed(1)} s to build the population again)`);
