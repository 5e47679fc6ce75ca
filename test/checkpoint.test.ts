// Checkpoints and resume: a run continued from a checkpoint, however often it was stopped or
// killed, is identical (every table, the summary) to the run that was never interrupted; a
// checkpoint from another run, or a damaged one, is refused with a reason. A checkpoint carries
// state, never identity: a forged population is refused, state out of range is refused, and a
// checkpoint must be signed with the run's key (or be resumed with --trust-copied-checkpoint).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import fc from "fast-check";
import { resolveScenario, simulate } from "../src/model/simulate.js";
import { CheckpointError, SimulationStopped } from "../src/engine/checkpoint.js";
import { runState } from "../src/model/checkpoint-state.js";
import { ShardRunner } from "../src/model/kernels.js";
import { createWorld } from "../src/model/population.js";
import { createSim } from "../src/model/context.js";
import { runCheckpointKey, secretPath } from "../src/io/checkpoint-key.js";
import type { RunResult, SimulateOptions } from "../src/model/result.js";
import { Rng } from "../src/engine/random.js";
import { loadScenario, parseScenario, reportedYear } from "../src/scenario/load.js";
import type { Scenario } from "../src/scenario/schema.js";
import { openDatabase } from "../src/io/duckdb.js";
import { markIncomplete, readManifest } from "../src/io/run-folder.js";
import { listRuns } from "../src/server/jobs.js";
import { deepMerge, difference, makeScenario } from "./helpers.js";

const here = dirname(fileURLToPath(import.meta.url)); // dist/test
const root = resolve(here, "../..");
const CLI = resolve(here, "../src/cli/main.js");
const tmp = mkdtempSync(join(tmpdir(), "credence-checkpoint-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
// This user's checkpoint secret, for this process and the CLIs it starts: never the real ~/.config.
process.env.XDG_CONFIG_HOME = join(tmp, "config");
/** The key the library runs here sign their checkpoints with. */
const KEY = new Uint8Array(32).fill(42);

/** china-2018 with every mechanism that keeps state between days switched on (expiry, decay,
 *  pull, appeals, targeting by region and group, informants' reward income), so that each phase's saved state is exercised. */
function busyScenario(): Scenario {
  const s = reportedYear(loadScenario(join(root, "scenarios/china-2018.yaml")));
  return parseScenario(deepMerge(s, {
    scoring: { expiryDays: 20, decayPerYear: 0.3, association: { pull: 0.05, pullEveryDays: 7 } },
    appeals: { enabled: true },
    observation: { targeting: { enabled: true, everyDays: 10, by: "both" }, informants: { rewardIncomeDays: 30 } },
  }), "busy test scenario");
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

/** The message of the CheckpointError that simulate() refuses the run with. */
function refused(options: SimulateOptions, scenario: Scenario = makeScenario()): string {
  try {
    simulate(scenario, options);
  } catch (e) {
    assert.ok(e instanceof CheckpointError, `expected a CheckpointError, got ${(e as Error).stack}`);
    return e.message;
  }
  assert.fail("the checkpoint was accepted");
}

const HEAD = 1024;
type ForgedPayload = { world: Record<string, unknown> };

/**
 * Checkpoint bytes rewritten as a forger would: the payload edited, its size and SHA-256
 * recomputed, and with `key` (a forger who even has the run's key) the HMAC too, as
 * docs/checkpoints.md describes it.
 */
function reforge(bytes: Uint8Array, edit: (p: ForgedPayload) => void, key?: Uint8Array): Uint8Array {
  const text = Buffer.from(bytes.subarray(0, HEAD)).toString("utf8");
  const header = JSON.parse(text.slice(text.indexOf("\n") + 1).trim()) as Record<string, unknown>;
  // A copy: the deserialized typed arrays are views over the bytes they are read from.
  const payload = v8.deserialize(Buffer.from(bytes.subarray(HEAD))) as ForgedPayload;
  edit(payload);
  const body = v8.serialize(payload);
  header.payloadBytes = body.length;
  header.payloadSha256 = createHash("sha256").update(body).digest("hex");
  if (key) {
    const signed = ["credence-checkpoint\n", ...["format", "scenarioHash", "seed", "population", "days", "nextDay", "payloadBytes", "payloadSha256", "builtSha256"].map((k) => header[k])];
    header.hmac = createHmac("sha256", key).update(JSON.stringify(signed)).digest("hex");
  }
  return Buffer.concat([Buffer.from(("credence-checkpoint\n" + JSON.stringify(header)).padEnd(HEAD - 1, " ") + "\n"), body]);
}

/** The header's text of checkpoint bytes with `from` replaced by `to` (same length: the payload stays in place). */
function editHeader(bytes: Uint8Array, from: string, to: string): Uint8Array {
  assert.equal(from.length, to.length);
  const text = Buffer.from(bytes.subarray(0, HEAD)).toString("latin1");
  assert.ok(text.includes(from), text);
  return Buffer.concat([Buffer.from(text.replace(from, to), "latin1"), bytes.subarray(HEAD)]);
}

test("resume from a checkpoint after day 0, a day between checkpoints, or the last day gives the uninterrupted run exactly", { timeout: 180_000 }, () => {
  const s = busyScenario();
  const opts = { seed: 9, population: 20_000, days: 90, checkpointKey: KEY };
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
  const opts = { seed: 4, population: 4_000, days, checkpointKey: KEY };
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
  const opts = { seed: 2, population: 3_000, days: 20, checkpointKey: KEY };
  const { checkpoints } = runAndStop(s, opts, 10, null);
  const good = checkpoints.get(10)!;
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
// State, never identity; signed with the run's key

test("a checkpoint with edited age bands, incomes and friendship graph, its SHA-256 (and even its HMAC) recomputed, cannot bring that population in", () => {
  const s = makeScenario();
  const opts = { seed: 2, population: 3_000, days: 20, checkpointKey: KEY };
  const plain = simulate(s, opts);
  const good = runAndStop(s, opts, 10, null).checkpoints.get(10)!;
  const world = createWorld(resolveScenario(s, opts), opts.seed);
  const n = world.n, oldest = s.population.ageBands.length - 1;
  // Every citizen the oldest and rich, and one friendship graph of the forger's (same shapes as the seed's).
  const forgedPopulation = (p: ForgedPayload) => {
    p.world["c.age"] = new Uint8Array(n).fill(oldest);
    p.world["c.incomeBase"] = new Float32Array(n).fill(1e6);
    p.world["c.income"] = new Float32Array(n).fill(1e6);
    p.world["c.traits"] = new Uint8Array(world.c.traits.length).fill(255);
    p.world["g.near"] = new Int16Array(world.g.near.length).fill(1);
  };
  for (const [who, key] of [["a forger without the key", undefined], ["a forger with the key", KEY]] as const) {
    const forged = reforge(good, forgedPopulation, key);
    let resumed: RunResult | undefined;
    try {
      resumed = simulate(s, { ...opts, resume: forged, ...(key ? {} : { resumeUnauthenticated: true }) });
    } catch (e) {
      assert.ok(e instanceof CheckpointError, (e as Error).stack);
      assert.match(e.message, /holds world arrays this version never restores \(c\.age, c\.incomeBase, c\.traits, g\.near\): what the seed builds is built again/, who);
    }
    // Refused; were it not, the resumed run would have to be the seed's population's.
    if (resumed) assert.equal(difference(plain, resumed), null, `${who}: the forged population got in`);
  }
  // Without the key and without resumeUnauthenticated, the recomputed checksum does not even pass the signature.
  assert.match(refused({ ...opts, resume: reforge(good, forgedPopulation) }, s), /signature \(HMAC\) does not verify/);
});

test("state out of its valid range is refused, even when signed with the run's key", () => {
  const s = makeScenario();
  const opts = { seed: 2, population: 3_000, days: 20, checkpointKey: KEY };
  const good = runAndStop(s, opts, 10, null).checkpoints.get(10)!;
  const edits: [string, (a: { [i: number]: number }) => void, RegExp][] = [
    ["c.score", (a) => (a[5] = s.scoring.max + 1), /c\.score\[5\] is \d+, expected within \[/],
    ["c.errorFree", (a) => (a[6] = s.scoring.min - 1), /c\.errorFree\[6\] is -?\d+, expected within/],
    ["c.income", (a) => (a[7] *= 1000), /c\.income\[7\] is .*, expected between .* times the citizen's base income/],
    ["c.assocPoints", (a) => (a[8] = NaN), /c\.assocPoints\[8\] is NaN, expected a finite number/],
    ["c.lastPenalty", (a) => (a[9] = 11), /c\.lastPenalty\[9\] is 11, expected within \[0, 10\]/], // past the day resumed
    ["c.sanctionMask", (a) => (a[11] = 0xffff), /c\.sanctionMask\[11\] is 65535, expected a mask of/],
    ["regionWatch", (a) => (a[0] = -1), /regionWatch\[0\] is -1, expected a finite weight >= 0/],
  ];
  for (const [name, edit, message] of edits) {
    const forged = reforge(good, (p) => edit(p.world[name] as { [i: number]: number }), KEY);
    assert.match(refused({ ...opts, resume: forged }, s), message, name);
  }
  // Shapes: another type, another length, a state array missing.
  assert.match(refused({ ...opts, resume: reforge(good, (p) => (p.world["c.score"] = new Float64Array(3_000)), KEY) }, s), /c\.score does not fit this run \(a Float64Array of 3000, expected a Float32Array of 3000\)/);
  assert.match(refused({ ...opts, resume: reforge(good, (p) => (p.world["g.alive"] = new Uint8Array(3)), KEY) }, s), /g\.alive does not fit this run/);
  assert.match(refused({ ...opts, resume: reforge(good, (p) => delete p.world["c.firmRestrictions"], KEY) }, s), /has no c\.firmRestrictions/);
  // A list's roster is a set of citizen ids (membership is sparse: no per-citizen column to range-check).
  type Rosters = { states: { members: number[] }[] };
  const roster = (edit: (members: number[]) => void) => reforge(good, (p) => edit(((p as unknown as { phases: { lists: Rosters } }).phases.lists.states[0].members)), KEY);
  assert.match(refused({ ...opts, resume: roster((m) => m.push(3_000)) }, s), /the roster of list low-score is not a set of citizen ids below 3000/);
  assert.match(refused({ ...opts, resume: roster((m) => { assert.ok(m.length > 0, "low-score has members on day 10"); m.push(m[0]); }) }, s), /the roster of list low-score is not a set/);
  // The same edits within range are state, and are taken: only what is valid gets in.
  assert.doesNotThrow(() => simulate(s, { ...opts, resume: reforge(good, (p) => ((p.world["c.score"] as Float32Array)[5] = s.scoring.max), KEY) }));
});

test("a checkpoint whose HMAC does not verify is refused with a clear message; resumeUnauthenticated takes it, still checked", () => {
  const s = makeScenario();
  const opts = { seed: 2, population: 3_000, days: 20, checkpointKey: KEY };
  const plain = simulate(s, opts);
  const good = runAndStop(s, opts, 10, null).checkpoints.get(10)!;
  const otherKey = new Uint8Array(32).fill(7);
  const why = /the checkpoint's signature \(HMAC\) does not verify with this run's checkpoint key: it was altered, or written under another account or on another machine/;
  assert.match(refused({ ...opts, checkpointKey: otherKey, resume: good }, s), why);
  // The header's fields are signed: a later day, or a payload with its checksum recomputed.
  assert.match(refused({ ...opts, resume: editHeader(good, '"nextDay":10', '"nextDay":11') }, s), why);
  assert.match(refused({ ...opts, resume: reforge(good, (p) => ((p.world["c.score"] as Float32Array)[0] = s.scoring.min)) }, s), why);
  assert.match(refused({ ...opts, resume: editHeader(good, '"hmac":"', '"hmac":"'.replace("h", "H")) }, s), /HMAC|hmac/);
  // Without a key there is nothing to check against.
  assert.throws(() => simulate(s, { seed: 2, population: 3_000, days: 20, resume: good }), /needs options\.checkpointKey/);
  assert.throws(() => simulate(s, { seed: 2, population: 3_000, days: 20, checkpoint: { everyDays: 5, write: () => undefined } }), /needs options\.checkpointKey/);
  // Copied from another machine: taken without the signature, and the run is the same run.
  assert.equal(difference(plain, simulate(s, { ...opts, checkpointKey: otherKey, resumeUnauthenticated: true, resume: good })), null);
  // ... but never its damage or a population.
  const flipped = good.slice();
  flipped[flipped.length - 5000] ^= 1;
  assert.match(refused({ ...opts, resumeUnauthenticated: true, resume: flipped }, s), /checksum/);
});

test("an array of the world classified neither as identity nor as state stops checkpointing and resuming", () => {
  const s = resolveScenario(makeScenario(), { population: 2_000, days: 5 });
  const sim = createSim(createWorld(s, 1));
  const run = runState(sim, [], new ShardRunner(sim, 1));
  assert.match(run.fingerprint(), /^[0-9a-f]{64}$/);
  // @ts-expect-error a column no mechanism declares is not a column of Citizens (model/regime.ts, STATE_COLUMNS)
  assert.equal(sim.c.truthScore, undefined);
  (sim.c as unknown as Record<string, unknown>).truthScore = new Float32Array(sim.n);
  assert.throws(() => run.fingerprint(), /world arrays c\.truthScore are classified neither as identity nor as state/);
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

test("Ctrl-C with --checkpoint-every: stops after the day it was on, with a checkpoint of it and how to resume; resume on another thread count finishes the same run", { timeout: 300_000 }, async () => {
  const scenario = join(root, "scenarios/china-2018.yaml");
  const out = join(tmp, "stopped");
  const child = spawn(process.execPath, [CLI, "run", scenario, "--population", "50000", "--days", "300", "--seed", "5", "--threads", "1", "--checkpoint-every", "100", "--out", out], { cwd: tmp });
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
  const manifest = readManifest(out, { allowIncomplete: true }) as unknown as { status: string; reason: string; checkpoint: { day: number }; synthetic: boolean };
  assert.equal(manifest.status, "incomplete");
  assert.equal(manifest.synthetic, true, "a run in progress says its people are synthetic");
  assert.equal(manifest.checkpoint.day, day);
  assert.match(manifest.reason, new RegExp(`interrupted after day ${day} of 300 .*credence resume`));

  // Taken on one thread, resumed on two: a checkpoint does not depend on the shards.
  const r = credence(["resume", out, "--json", "--threads", "2"]);
  assert.equal(r.code, 0, r.stderr);
  const { summary, stats } = JSON.parse(r.stdout) as { summary: unknown; stats: { threads: number } };
  assert.equal(stats.threads, 2);
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
  const runId = "0123456789abcdef0123456789abcdef";
  const checkpointKey = runCheckpointKey(runId); // this user's key for the run, as the CLI finds it
  const bytes = runAndStop(s, { seed: 1, checkpointKey }, 10, 10).checkpoints.get(10)!;
  const foreign = runAndStop(s, { seed: 2, checkpointKey }, 10, 10).checkpoints.get(10)!;
  const manifest = { ...readManifest(cp), status: "incomplete", reason: "interrupted after day 10 of 30", checkpoint: { file: "checkpoint.bin", everyDays: 10, day: 10, runId } };
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
  // Shards in processes are retired (docs/scale.md): the option is refused, not ignored.
  r = credence(["resume", cp, "--transport", "processes"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /unknown option '--transport'/);
  r = credence(["resume", cp, "--quiet"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readManifest(cp).summary, uninterrupted);
});

test("resume: a checkpoint signed elsewhere is refused until --trust-copied-checkpoint; forged state and population are refused either way; the secret is private", () => {
  const scenario = join(root, "scenarios/city-pilot.yaml");
  const cp = join(tmp, "copied");
  const base = ["--population", "5000", "--days", "30", "--seed", "1", "--quiet"];
  rmSync(dirname(secretPath()), { recursive: true, force: true });
  assert.equal(credence(["run", scenario, ...base, "--checkpoint-every", "10", "--out", cp]).code, 0);
  const uninterrupted = readManifest(cp).summary;
  const s = parseScenario(readManifest(cp).scenario, "manifest");
  // This account's secret: made by the CLI run above, private, in a private folder.
  assert.equal(statSync(secretPath()).mode & 0o777, 0o600);
  assert.equal(statSync(dirname(secretPath())).mode & 0o777, 0o700);

  // The folder of a run killed after day 10 on another machine (another user's secret).
  const elsewhere = { ...process.env, XDG_CONFIG_HOME: join(tmp, "elsewhere") };
  const runId = "fedcba9876543210fedcba9876543210";
  const theirs = runAndStop(s, { seed: 1, checkpointKey: runCheckpointKey(runId, elsewhere) }, 10, 10).checkpoints.get(10)!;
  const manifest = { ...readManifest(cp), status: "incomplete", reason: "interrupted after day 10 of 30", checkpoint: { file: "checkpoint.bin", everyDays: 10, day: 10, runId } };
  rmSync(join(cp, "run.duckdb"));
  writeFileSync(join(cp, "manifest.json"), JSON.stringify(manifest));
  const put = (bytes: Uint8Array) => writeFileSync(join(cp, "checkpoint.bin"), bytes);

  put(theirs);
  let r = credence(["resume", cp]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /copied\/checkpoint\.bin: the checkpoint's signature \(HMAC\) does not verify with this run's checkpoint key: it was altered, or written under another account or on another machine\. .*If you copied this folder from a run of yours elsewhere, resume with --trust-copied-checkpoint/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");

  // Only a regular file is read: not a FIFO (which would hang), nor a symlink to /dev/zero (which would fill memory).
  rmSync(join(cp, "checkpoint.bin"));
  assert.equal(spawnSync("mkfifo", [join(cp, "checkpoint.bin")]).status, 0);
  r = credence(["resume", cp]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot resume .*: checkpoint\.bin is not a regular file/);
  rmSync(join(cp, "checkpoint.bin"));
  symlinkSync("/dev/zero", join(cp, "checkpoint.bin"));
  r = credence(["resume", cp]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot resume .*: checkpoint\.bin is a symbolic link; a checkpoint is a regular file/);
  rmSync(join(cp, "checkpoint.bin"));

  // Taken without its signature, a population of the forger's is still refused, and so is state out of range.
  put(reforge(theirs, (p) => (p.world["c.age"] = new Uint8Array(5_000))));
  r = credence(["resume", cp, "--trust-copied-checkpoint", "--quiet"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot resume .*checkpoint\.bin: the checkpoint holds world arrays this version never restores \(c\.age\)/);
  put(reforge(theirs, (p) => ((p.world["c.score"] as Float32Array)[0] = 1e9)));
  r = credence(["resume", cp, "--trust-copied-checkpoint", "--quiet"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot resume .*checkpoint\.bin: the checkpoint's c\.score\[0\] is 1000000000, expected within/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  assert.equal(readManifest(cp, { allowIncomplete: true }).reason, manifest.reason, "a refused checkpoint leaves the folder as it was");

  put(theirs);
  r = credence(["resume", cp, "--trust-copied-checkpoint"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /not checking .*checkpoint\.bin's signature \(--trust-copied-checkpoint\)/);
  assert.deepEqual(readManifest(cp).summary, uninterrupted);

  // A secret others can read signs nothing.
  chmodSync(secretPath(elsewhere), 0o644);
  assert.throws(() => runCheckpointKey(runId, elsewhere), /can be read or written by other users \(mode 644\); make it private/);
});
