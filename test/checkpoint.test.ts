// Checkpoints and resume: a run continued from a checkpoint, however often it was stopped or
// killed, is identical (every table, the summary) to the run that was never interrupted; a
// checkpoint from another run, or a damaged one, is refused with a reason.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { simulate } from "../src/engine/simulate.js";
import { CheckpointError, SimulationStopped } from "../src/engine/checkpoint.js";
import type { RunResult, SimulateOptions } from "../src/engine/result.js";
import { Rng } from "../src/engine/random.js";
import { loadScenario, parseScenario } from "../src/scenario/load.js";
import type { Scenario } from "../src/scenario/schema.js";
import { openDatabase } from "../src/io/duckdb.js";
import { markIncomplete, readManifest } from "../src/io/run-folder.js";
import { listRuns } from "../src/server/jobs.js";
import { deepMerge, makeScenario } from "./helpers.js";

const here = dirname(fileURLToPath(import.meta.url)); // dist/test
const root = resolve(here, "../..");
const CLI = resolve(here, "../src/cli/main.js");
const tmp = mkdtempSync(join(tmpdir(), "credence-checkpoint-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));

/** china-2018 with every mechanism that keeps state between days switched on (expiry, decay,
 *  pull, appeals, targeting), so that each phase's saved state is exercised. */
function busyScenario(): Scenario {
  const s = loadScenario(join(root, "scenarios/china-2018.yaml"));
  return parseScenario(deepMerge(s, {
    scoring: { expiryDays: 20, decayPerYear: 0.3, association: { pull: 0.05, pullEveryDays: 7 } },
    appeals: { enabled: true },
    observation: { targeting: { enabled: true, everyDays: 10 } },
  }), "busy test scenario");
}

/** The first difference between two runs (summary, then every table cell; NaN equals NaN), or null. */
function difference(a: RunResult, b: RunResult): string | null {
  if (JSON.stringify(a.summary) !== JSON.stringify(b.summary)) return "summary differs";
  if (a.tables.length !== b.tables.length) return "table count differs";
  for (let t = 0; t < a.tables.length; t++) {
    const x = a.tables[t], y = b.tables[t];
    if (x.name !== y.name || x.rows !== y.rows) return `${x.name}: ${x.rows} rows vs ${y.name}: ${y.rows}`;
    for (let k = 0; k < x.columns.length; k++) {
      const cx = x.columns[k].data as ArrayLike<unknown>, cy = y.columns[k].data as ArrayLike<unknown>;
      for (let r = 0; r < x.rows; r++) if (!Object.is(cx[r], cy[r])) return `${x.name}.${x.columns[k].name}[${r}]: ${String(cx[r])} vs ${String(cy[r])}`;
    }
  }
  return null;
}

/** Runs until stopped after `stopAt` days (or to the end); returns every checkpoint written, by day. */
function runAndStop(s: Scenario, options: SimulateOptions, everyDays: number, stopAt: number | null): { checkpoints: Map<number, Uint8Array>; stoppedAt: number | null; result?: RunResult } {
  const checkpoints = new Map<number, Uint8Array>();
  let calls = 0; // shouldStop is asked before day `firstDay`, then after every day
  const firstDay = options.resume ? Number(/"nextDay":(\d+)/.exec(Buffer.from(options.resume.subarray(0, 400)).toString("latin1"))![1]) : 0;
  try {
    const result = simulate(s, {
      ...options,
      checkpoint: { everyDays, write: (bytes, day) => checkpoints.set(day, bytes) },
      shouldStop: () => stopAt !== null && firstDay + calls++ === stopAt,
    });
    return { checkpoints, stoppedAt: null, result };
  } catch (e) {
    if (!(e instanceof SimulationStopped)) throw e;
    return { checkpoints, stoppedAt: e.nextDay };
  }
}

test("resume from a checkpoint after day 0, a day between checkpoints, or the last day gives the uninterrupted run exactly", { timeout: 180_000 }, () => {
  const s = busyScenario();
  const opts = { seed: 9, population: 20_000, days: 90 };
  const plain = simulate(s, opts);
  const { checkpoints, result } = runAndStop(s, opts, 30, null);
  assert.equal(difference(plain, result!), null, "taking checkpoints must not change the run");
  assert.deepEqual([...checkpoints.keys()], [30, 60, 90]);
  // Not a quiet run: the saved phase states are in use.
  assert.ok(plain.summary.appeals.filed > 0 && plain.summary.association.charges > 0, JSON.stringify(plain.summary.appeals));

  const zero = runAndStop(s, opts, 30, 0);
  assert.equal(zero.stoppedAt, 0);
  const between = runAndStop(s, opts, 30, 47);
  assert.equal(between.stoppedAt, 47);
  assert.deepEqual([...between.checkpoints.keys()], [30, 47], "a stop writes the day it stopped after");

  const cases: [number, Uint8Array][] = [[0, zero.checkpoints.get(0)!], [30, checkpoints.get(30)!], [47, between.checkpoints.get(47)!], [90, checkpoints.get(90)!]];
  for (const [day, bytes] of cases) {
    const resumed = simulate(s, { ...opts, resume: bytes });
    assert.equal(difference(plain, resumed), null, `resumed after day ${day}`);
  }

  // A checkpoint taken on 3 threads resumes on 1, and one taken on 1 resumes on 2: the shards'
  // pending expiry is handed over whole and shared out again.
  const onThree = runAndStop(s, { ...opts, threads: 3 }, 30, 47);
  assert.equal(difference(plain, simulate(s, { ...opts, threads: 1, resume: onThree.checkpoints.get(47)! })), null, "3 threads, then 1");
  assert.equal(difference(plain, simulate(s, { ...opts, threads: 2, resume: between.checkpoints.get(47)! })), null, "1 thread, then 2");
});

test("property: stopped or killed at any day with any checkpoint interval, then resumed (perhaps stopped again), the run is unchanged", { timeout: 300_000 }, () => {
  const s = makeScenario({
    scoring: { expiryDays: 9, decayPerYear: 0.2, association: { enabled: true, pull: 0.1, pullEveryDays: 5 } },
    appeals: { enabled: true },
  });
  const days = 36;
  const opts = { seed: 4, population: 4_000, days };
  const reference = simulate(s, opts);
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: days + 3 }), // checkpoint interval (beyond the run: only stop checkpoints)
      fc.uniqueArray(fc.integer({ min: 0, max: days }), { minLength: 1, maxLength: 2 }), // interruption days
      fc.boolean(), // graceful (Ctrl-C: the stop writes a checkpoint) or killed (only periodic checkpoints survive)
      (every, stops, graceful) => {
        let resume: Uint8Array | undefined;
        for (const stopAt of [...stops].sort((a, b) => a - b)) {
          const from = resume ? Number(/"nextDay":(\d+)/.exec(Buffer.from(resume.subarray(0, 400)).toString("latin1"))![1]) : 0;
          if (stopAt < from) continue;
          const r = runAndStop(s, { ...opts, resume }, every, stopAt);
          const kept = [...r.checkpoints].filter(([day]) => graceful || day % every === 0);
          if (kept.length) resume = kept[kept.length - 1][1]; // else: killed before any checkpoint, start over
          else if (!resume) resume = undefined;
        }
        const final = simulate(s, { ...opts, resume });
        assert.equal(difference(reference, final), null);
      },
    ),
    { numRuns: 8, seed: 20_260_417 },
  );
});

test("a checkpoint from another run or a damaged one is refused with a reason", () => {
  const s = makeScenario();
  const opts = { seed: 2, population: 3_000, days: 20 };
  const { checkpoints } = runAndStop(s, opts, 10, null);
  const good = checkpoints.get(10)!;
  const refused = (options: SimulateOptions, scenario = s) => {
    try {
      simulate(scenario, options);
    } catch (e) {
      assert.ok(e instanceof CheckpointError, `expected a CheckpointError, got ${(e as Error).stack}`);
      return e.message;
    }
    assert.fail("the checkpoint was accepted");
  };
  assert.match(refused({ ...opts, seed: 3, resume: good }), /another run: seed 2 \(this run 3\)/);
  assert.match(refused({ ...opts, population: 3_001, resume: good }), /population 3000 \(this run 3001\)/);
  assert.match(refused({ ...opts, days: 21, resume: good }), /days 20 \(this run 21\)/);
  assert.match(refused({ ...opts, resume: good }, makeScenario({ scoring: { initial: 999 } })), /another run: scenario/);
  assert.match(refused({ ...opts, resume: good.subarray(0, good.length - 100) }), /cut short/);
  const flipped = good.slice();
  flipped[flipped.length - 5000] ^= 1;
  assert.match(refused({ ...opts, resume: flipped }), /checksum/);
  assert.match(refused({ ...opts, resume: new TextEncoder().encode("PK\u0003\u0004 not a checkpoint") }), /not a Credence checkpoint/);
  // The good one still works after all that (nothing was consumed).
  assert.doesNotThrow(() => simulate(s, { ...opts, resume: good }));
});

// ---------------------------------------------------------------------------------------------
// The command line

function credence(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: tmp, encoding: "utf8", timeout: 300_000, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Differences between two run databases, table by table (row counts and rows either way), via DuckDB. */
async function databaseDifferences(a: string, b: string): Promise<string[]> {
  const db = await openDatabase(a);
  try {
    await db.query(`ATTACH '${b.replace(/'/g, "''")}' AS other (READ_ONLY)`);
    const names = (await db.query(`SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() ORDER BY 1`)).map((r) => String(r.table_name));
    const others = (await db.query(`SELECT table_name FROM duckdb_tables() WHERE database_name = 'other' ORDER BY 1`)).map((r) => String(r.table_name));
    const out: string[] = [];
    if (names.join() !== others.join()) out.push(`tables: ${names.join()} vs ${others.join()}`);
    assert.ok(names.length >= 10, names.join());
    for (const t of names) {
      const q = `"${t}"`;
      const [r] = await db.query(`SELECT (SELECT count(*) FROM ${q}) AS a, (SELECT count(*) FROM other.${q}) AS b,
        (SELECT count(*) FROM (FROM ${q} EXCEPT ALL FROM other.${q})) AS only_a, (SELECT count(*) FROM (FROM other.${q} EXCEPT ALL FROM ${q})) AS only_b`);
      if (Number(r.a) !== Number(r.b) || Number(r.only_a) || Number(r.only_b)) out.push(`${t}: ${JSON.stringify(r)}`);
    }
    return out;
  } finally {
    db.close();
  }
}

test("SIGKILL at seeded moments, resume until done: run.duckdb and the summary equal the uninterrupted run's; the folder reads as incomplete in between", { timeout: 600_000 }, async (t) => {
  const scenario = join(root, "scenarios/city-pilot.yaml");
  const args = ["--population", "40000", "--days", "240", "--seed", "11", "--quiet"];
  const days = 240, every = 15;
  const ref = join(tmp, "ref"), out = join(tmp, "runs", "killed");
  const r0 = credence(["run", scenario, ...args, "--out", ref]);
  assert.equal(r0.code, 0, r0.stderr);

  const rng = new Rng(20_260_417);
  let kills = 0;
  for (let attempt = 0; attempt < 8; attempt++) {
    const cmd = attempt === 0 ? ["run", scenario, ...args, "--checkpoint-every", String(every), "--out", out] : ["resume", out, "--quiet"];
    const child = spawn(process.execPath, [CLI, ...cmd], { cwd: tmp, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((res) => child.on("close", (code) => res(code)));
    let done = false;
    void exited.then(() => (done = true));
    if (kills < 4) {
      // Seeded moment: once the folder's last checkpoint has reached a drawn day (0: at once),
      // plus a drawn delay, so that kills land while simulating, checkpointing or writing.
      const from = (() => {
        try {
          return (readManifest(out, { allowIncomplete: true }) as unknown as { checkpoint?: { day: number | null } }).checkpoint?.day ?? 0;
        } catch {
          return 0;
        }
      })();
      const target = rng.next() < 0.25 ? 0 : Math.min(days - every, from + every * (1 + rng.int(5)));
      const delayMs = rng.int(250);
      while (!done) {
        let day = -1;
        try {
          day = (JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")) as { checkpoint?: { day: number | null } }).checkpoint?.day ?? 0;
        } catch {
          // not there yet, or a complete run's manifest being swapped in
        }
        if (day >= target) break;
        await new Promise((res) => setTimeout(res, 5));
      }
      await new Promise((res) => setTimeout(res, delayMs));
      if (!done) {
        child.kill("SIGKILL");
        kills++;
        t.diagnostic(`${cmd[0]} killed ${delayMs} ms after checkpoint day ${target} was reached`);
      }
    }
    const code = await exited;
    if (code === 0) break;
    assert.equal(code, null, `killed, or else it should have finished: ${stderr}`);
    // Between kills: never complete, always says how to resume; listed as incomplete by the dashboard.
    const m = readManifest(out, { allowIncomplete: true });
    assert.equal(m.status, "incomplete");
    assert.match(m.reason ?? "", /credence resume/);
    assert.throws(() => readManifest(out), /Incomplete run/);
    const listing = listRuns(dirname(out), []).find((x) => x.id === "killed");
    assert.equal(listing?.status, "incomplete");
  }
  assert.ok(kills >= 2, `only ${kills} kills landed`);
  const m = readManifest(out);
  assert.equal(m.status, "complete");
  assert.ok(!existsSync(join(out, "checkpoint.bin")), "the finished run keeps no checkpoint");
  // What killed writers left (temporary files, half-written folders) was cleared by the resumes.
  assert.deepEqual(readdirSync(dirname(out)), ["killed"]);
  assert.deepEqual(readdirSync(out).sort(), ["manifest.json", "run.duckdb"]);
  const mr = readManifest(ref);
  assert.deepEqual(m.summary, mr.summary);
  assert.deepEqual(m.tables, mr.tables);
  assert.equal(m.scenarioHash, mr.scenarioHash);
  assert.deepEqual(await databaseDifferences(join(out, "run.duckdb"), join(ref, "run.duckdb")), []);

  // A finished run is refused, clearly.
  const again = credence(["resume", out]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /holds a complete run: there is nothing to resume/);
});

test("Ctrl-C with --checkpoint-every: stops after the day it was on, with a checkpoint of it and how to resume; resume (shards in processes) finishes the same run", { timeout: 300_000 }, async () => {
  const scenario = join(root, "scenarios/china-2018.yaml");
  const out = join(tmp, "stopped");
  const child = spawn(process.execPath, [CLI, "run", scenario, "--population", "50000", "--days", "300", "--seed", "5", "--checkpoint-every", "100", "--out", out], { cwd: tmp });
  let stderr = "";
  const exited = new Promise<number | null>((res) => child.on("close", (code) => res(code)));
  // Wait for a progress line of the simulation (plain lines at each tenth of the run).
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`no progress: ${stderr}`)), 120_000);
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (/simulate .* day \d+\/300/.test(stderr)) {
        clearTimeout(timer);
        res();
      }
    });
  });
  child.kill("SIGINT");
  const code = await exited;
  assert.equal(code, 130, stderr);
  const m = /stopped after day (\d+) of 300; .* holds its checkpoint\. To continue: credence resume /.exec(stderr);
  assert.ok(m, stderr);
  const day = Number(m[1]);
  assert.ok(day >= 30 && day < 300, stderr);
  const manifest = readManifest(out, { allowIncomplete: true }) as unknown as { status: string; reason: string; checkpoint: { day: number } };
  assert.equal(manifest.status, "incomplete");
  assert.equal(manifest.checkpoint.day, day);
  assert.match(manifest.reason, new RegExp(`interrupted after day ${day} of 300 .*credence resume`));

  // Resumed with its shards in processes: a checkpoint does not depend on where shards run.
  const r = credence(["resume", out, "--json", "--threads", "2", "--transport", "processes"]);
  assert.equal(r.code, 0, r.stderr);
  const { summary, stats } = JSON.parse(r.stdout) as { summary: unknown; stats: { transport: string; threads: number } };
  assert.deepEqual([stats.transport, stats.threads], ["processes", 2]);
  const expected = simulate(loadScenario(scenario), { seed: 5, population: 50_000, days: 300 }).summary;
  assert.deepEqual(summary, JSON.parse(JSON.stringify(expected)));
});

test("resume refuses what it cannot continue: a complete run, a run without checkpoints, a damaged or foreign checkpoint, no run at all", () => {
  const scenario = join(root, "scenarios/city-pilot.yaml");
  const out = join(tmp, "refusals");
  const base = ["--population", "5000", "--days", "30", "--seed", "1", "--quiet"];
  assert.equal(credence(["run", scenario, ...base, "--out", out]).code, 0);
  const uninterrupted = readManifest(out).summary;
  let r = credence(["resume", out]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /refusals holds a complete run: there is nothing to resume/);

  markIncomplete(out, "interrupted in a test");
  r = credence(["resume", out]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /is incomplete \(interrupted in a test\) but has no checkpoints: it was not run with --checkpoint-every/);

  r = credence(["resume", join(tmp, "nowhere")]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot resume: No such run folder/);

  // The folder of a checkpointed run killed after day 10, made by hand from a finished one (the
  // CLI leaves no checkpoint behind when it finishes) and library checkpoints; then damaged or swapped.
  const cp = join(tmp, "damaged");
  assert.equal(credence(["run", scenario, ...base, "--checkpoint-every", "10", "--out", cp]).code, 0);
  const s = parseScenario(readManifest(cp).scenario, "manifest");
  const bytes = runAndStop(s, { seed: 1 }, 10, 10).checkpoints.get(10)!;
  const foreign = runAndStop(s, { seed: 2 }, 10, 10).checkpoints.get(10)!;
  const manifest = { ...readManifest(cp), status: "incomplete", reason: "interrupted after day 10 of 30", checkpoint: { file: "checkpoint.bin", everyDays: 10, day: 10 } };
  rmSync(join(cp, "run.duckdb"));
  writeFileSync(join(cp, "manifest.json"), JSON.stringify(manifest));

  const damaged = Buffer.from(bytes);
  damaged[damaged.length - 77] ^= 0xff;
  writeFileSync(join(cp, "checkpoint.bin"), damaged);
  r = credence(["resume", cp]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /checkpoint\.bin: damaged checkpoint: the state does not match its checksum\. Start the run again/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");

  writeFileSync(join(cp, "checkpoint.bin"), foreign);
  r = credence(["resume", cp]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /the checkpoint belongs to another run: seed 2 \(this run 1\)/);

  writeFileSync(join(cp, "checkpoint.bin"), bytes);
  writeFileSync(join(cp, "manifest.json"), JSON.stringify({ ...manifest, version: "0.0.1-elsewhere" }));
  r = credence(["resume", cp]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /was started by Credence 0\.0\.1-elsewhere; this is .*, which cannot promise to continue it identically/);

  writeFileSync(join(cp, "manifest.json"), JSON.stringify(manifest));
  r = credence(["resume", cp, "--listen", "127.0.0.1:9"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--listen 127\.0\.0\.1:9 is for shards in processes: add --transport processes/);
  r = credence(["resume", cp, "--quiet"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readManifest(cp).summary, uninterrupted);
});
