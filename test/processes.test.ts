// Shards in processes of their own (transport "processes"): each holds a copy of the world kept
// in step by patches, and exchanges only messages with the coordinator over loopback. The runs
// must be bit-identical to threads; a shard process that dies must fail the run with a reason,
// and a coordinator that dies must not leave shard processes behind.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { simulate } from "../src/engine/simulate.js";
import { SimulationStopped } from "../src/engine/checkpoint.js";
import { Replica, replicatedArrays } from "../src/engine/replica.js";
import { BLOCK } from "../src/engine/shards.js";
import type { RunResult, SimulateOptions } from "../src/engine/result.js";
import type { World } from "../src/engine/world.js";
import { loadScenario } from "../src/scenario/load.js";
import { makeScenario, tableDifference } from "./helpers.js";

const here = dirname(fileURLToPath(import.meta.url)); // dist/test
const CLI = resolve(here, "../src/cli/main.js");

function assertIdentical(a: RunResult, b: RunResult, label: string): void {
  assert.deepEqual(b.summary, a.summary, `${label}: summary`);
  assert.equal(b.tables.length, a.tables.length);
  for (let t = 0; t < a.tables.length; t++) assert.equal(tableDifference(a.tables[t], b.tables[t]), null, `${label}: ${a.tables[t].name}`);
}

/** Every mechanism that writes the world between the shards' tasks: expiry, decay, pull, appeals, targeting, lists, sanctions, shaming. */
const busy = makeScenario({
  population: { size: 5 * BLOCK - 123 },
  days: 60,
  metrics: { trailSample: 3_000 },
  scoring: { decayPerYear: 0.2, expiryDays: 20, association: { enabled: true, householdShare: 0.3, friendShare: 0.2, pull: 0.05, pullEveryDays: 20 } },
  appeals: { enabled: true },
  observation: { targeting: { enabled: true, everyDays: 10 } },
});

/** Ids of the shard processes started by `parent` (read from /proc: no tool to install). */
const shardProcesses = (parent = process.pid): number[] =>
  readdirSync("/proc").filter((d) => /^\d+$/.test(d)).flatMap((d) => {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]); // after "pid (name) state"
      const alive = !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
      return ppid === parent && alive && readFileSync(`/proc/${d}/cmdline`, "utf8").includes("shard-process.js") ? [Number(d)] : [];
    } catch {
      return []; // ended while being read
    }
  });

/** Block this thread for `ms` (simulate() is synchronous: the test waits the same way). */
const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

test("processes: 2 and 4 shard processes give the run of one thread, bit for bit, and say what crossed the wire", { timeout: 180_000 }, () => {
  const one = simulate(busy, { seed: 9, threads: 1 });
  assert.ok(one.summary.association.charges > 1_000 && one.summary.appeals.filed > 0, JSON.stringify(one.summary.appeals));
  for (const threads of [3, 5]) {
    const many = simulate(busy, { seed: 9, threads, transport: "processes" });
    assert.equal(many.stats.transport, "processes");
    assert.equal(many.stats.threads, threads);
    assertIdentical(one, many, `${threads - 1} shard processes`);
    const { bytes, worldChangeBytes, peakRssBytes } = many.stats.exchange;
    // Every day the shards get observations and charges and send back charges, counts and their changes.
    for (const kind of ["behave", "observe", "points", "charges"]) assert.ok(bytes[kind].sent > 0 && bytes[kind].received > 0, `${kind}: ${JSON.stringify(bytes[kind])}`);
    assert.ok(worldChangeBytes.sent > 0 && worldChangeBytes.received > 0, JSON.stringify(worldChangeBytes));
    assert.ok(worldChangeBytes.received < bytes.charges.received, "the changes travel inside the charges' answers");
    assert.equal(peakRssBytes.length, threads - 1);
    assert.ok(peakRssBytes.every((b) => b > 10e6), `shard processes' peak memory: ${peakRssBytes}`);
  }
  assert.deepEqual(one.stats.exchange.bytes, {}, "threads exchange nothing over a wire");
  // A shard process exits once it reads the closing frame, which the run sends on its way out:
  // on a loaded machine that can be a moment after simulate() returns.
  for (let t = 0; t < 50 && shardProcesses().length; t++) sleep(100);
  assert.deepEqual(shardProcesses(), [], "every shard process has ended with its run");
});

test("processes: a checkpoint taken with shard processes resumes with processes or threads to the uninterrupted run", { timeout: 180_000 }, () => {
  const plain = simulate(busy, { seed: 3, threads: 1 });
  let bytes: Uint8Array | undefined;
  let calls = 0;
  const opts: SimulateOptions = { seed: 3, threads: 3, transport: "processes", checkpointKey: new Uint8Array(32).fill(3) };
  assert.throws(
    () => simulate(busy, { ...opts, checkpoint: { everyDays: 100, write: (b) => (bytes = b) }, shouldStop: () => calls++ === 33 }),
    (e) => e instanceof SimulationStopped && e.nextDay === 33,
  );
  assertIdentical(plain, simulate(busy, { ...opts, resume: bytes! }), "resumed with processes");
  assertIdentical(plain, simulate(busy, { seed: 3, threads: 2, resume: bytes!, checkpointKey: opts.checkpointKey }), "resumed on threads");
});

test("processes: a shard process killed mid-run fails the run with the shard, its process and the signal", { timeout: 120_000 }, () => {
  let killed: number | undefined;
  const started = Date.now();
  assert.throws(
    () => simulate(busy, {
      seed: 9, threads: 3, transport: "processes",
      onProgress: (p) => {
        if (p.phase !== "simulate" || p.day !== 5) return;
        killed = shardProcesses()[0];
        process.kill(killed, "SIGKILL");
      },
    }),
    (e: Error) => new RegExp(`shard \\d: its process \\(pid ${killed}\\) ended with signal SIGKILL`).test(e.message),
  );
  assert.ok(killed, "a shard process was found to kill");
  assert.ok(Date.now() - started < 60_000, "the run failed at once rather than wait for the dead shard");
  // The other shard processes are told to close with the run.
  for (let t = 0; t < 50 && shardProcesses().length; t++) sleep(100);
  assert.deepEqual(shardProcesses(), []);
});

test("processes: a coordinator killed mid-run leaves no shard process behind", { timeout: 120_000 }, async () => {
  const child = spawn(process.execPath, [CLI, "run", join(here, "../../scenarios/china-2018.yaml"), "--population", "60000", "--days", "300", "--threads", "3", "--transport", "processes", "--out", join(here, "..", "..", "runs", `.test-processes-${process.pid}`), "--quiet"], { stdio: "ignore" });
  let shards: number[] = [];
  for (let t = 0; t < 300 && shards.length < 2; t++) {
    await new Promise((r) => setTimeout(r, 100));
    shards = shardProcesses(child.pid);
  }
  assert.equal(shards.length, 2, "the run started two shard processes");
  child.kill("SIGKILL");
  await new Promise((r) => child.once("exit", r));
  const alive = () => shards.filter((pid) => { try { process.kill(pid, 0); return true; } catch { return false; } });
  for (let t = 0; t < 100 && alive().length; t++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(alive(), [], "shard processes end when their coordinator's socket closes");
});

test("processes: shard processes started on their own (credence shard --connect, before the run listens) serve a run started with --listen", { timeout: 120_000 }, async () => {
  const base = 20_000 + (process.pid % 20_000) * 2;
  const scenario = join(here, "../../scenarios/china-2018.yaml");
  const out = join(here, "..", "..", "runs", `.test-listen-${process.pid}`);
  const exited = (p: ReturnType<typeof spawn>) => new Promise<number | null>((r) => p.once("exit", r));
  // The shards first: they keep trying until the run listens, as they would on other machines.
  const shards = [0, 1].map((k) => spawn(process.execPath, [CLI, "shard", "--connect", `127.0.0.1:${base + k}`], { stdio: ["ignore", "ignore", "pipe"] }));
  const shardErr = shards.map((p) => { let e = ""; p.stderr!.on("data", (d) => (e += d)); return () => e; });
  await new Promise((r) => setTimeout(r, 500));
  const run = spawn(process.execPath, [CLI, "run", scenario, "--population", "30000", "--days", "25", "--seed", "5", "--threads", "3", "--transport", "processes", "--listen", `127.0.0.1:${base}`, "--out", out, "--json"], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "", stderr = "";
  run.stdout!.on("data", (d) => (stdout += d));
  run.stderr!.on("data", (d) => (stderr += d));
  const [code, ...shardCodes] = await Promise.all([exited(run), ...shards.map(exited)]);
  try {
    assert.equal(code, 0, `the run ends: ${stderr}`);
    assert.match(stderr, new RegExp(`shard 2: waiting on 127\\.0\\.0\\.1:${base + 1} for its process: credence shard --connect HOST:${base + 1}`));
    assert.deepEqual(shardCodes, [0, 0], "the shard processes end with the run");
    shardErr.forEach((e, k) => assert.match(e(), new RegExp(`connected to 127\\.0\\.0\\.1:${base + k}`)));
    const remote = JSON.parse(stdout) as { summary: RunResult["summary"]; stats: RunResult["stats"] };
    assert.equal(remote.stats.transport, "processes");
    const local = simulate(loadScenario(scenario), { seed: 5, population: 30_000, days: 25, threads: 1 });
    assert.deepEqual(remote.summary, JSON.parse(JSON.stringify(local.summary)));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("property: a replica takes the other side's changes exactly (bit patterns, -0 and NaN too), and a shard sends only its own citizens'", () => {
  // 63 citizens: the byte and 16-bit arrays end in a part of a 4-byte word. Shards start and end
  // on multiples of 4 (or at n) here, as they do on whole blocks in a run.
  const n = 63;
  const world = () => ({
    n,
    c: { score: new Float32Array(n), listMask: new Uint8Array(n), sanctionMask: new Uint16Array(n), cell: new Uint16Array(n), traits: new Uint8Array(5 * n) },
    g: { alive: new Uint8Array(41) },
    regionWatch: new Float64Array(3),
  }) as unknown as Pick<World, "c" | "g" | "regionWatch" | "n">;
  const shared = () => ({ coverage: [new Float64Array(5)], detect: [new Float64Array(5)] });
  const special = fc.constantFrom(-0, NaN, Infinity, 1e-40);
  // Small integers as well as doubles: most doubles become 0 in a byte or 16-bit array.
  const change = fc.tuple(fc.nat(5), fc.nat(n - 1), fc.oneof(fc.integer({ min: -70_000, max: 70_000 }), fc.double(), special));
  const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  fc.assert(
    fc.property(fc.array(change, { maxLength: 80 }), fc.array(change, { maxLength: 80 }), fc.nat(15), fc.nat(16), (coordinatorChanges, shardChanges, quarter, quarters) => {
      const lo = quarter * 4;
      const own = { lo, hi: Math.min(n, lo + quarters * 4), n };
      const [wa, sa, wb, sb] = [world(), shared(), world(), shared()];
      const coordinator = replicatedArrays(wa, sa), shard = replicatedArrays(wb, sb);
      assert.deepEqual(coordinator.map((r) => r.name), ["score", "listMask", "sanctionMask", "alive", "regionWatch", "coverage0", "detect0"], "fixed arrays are not replicated");
      const [a, b] = [new Replica(coordinator), new Replica(shard, own)];
      const typed = (w: typeof wa, s: typeof sa) => [w.c.score, w.c.listMask, w.c.sanctionMask, w.g.alive, w.regionWatch, s.coverage[0]];
      // The coordinator writes anything; its changes reach the shard.
      for (const [k, i, v] of coordinatorChanges) { const arr = typed(wa, sa)[k]; arr[i % arr.length] = v; }
      b.apply(a.changes());
      // The shard writes its own citizens; its changes reach the coordinator.
      for (const [k, i, v] of shardChanges) {
        if (k > 2 || i < own.lo || i >= own.hi) continue;
        typed(wb, sb)[k][i] = v;
      }
      a.apply(b.changes());
      typed(wa, sa).forEach((x, k) => assert.deepEqual(bytes(x), bytes(typed(wb, sb)[k]), coordinator[k].name));
      // Nothing is sent twice: what one side took, it does not send back.
      const empty = (p: ReturnType<Replica["changes"]>) => [...p.at, ...p.tailAt].every((x) => x.length === 0);
      assert.ok(empty(a.changes()) && empty(b.changes()));
      // A shard must own whole words.
      if (own.hi < n) assert.throws(() => new Replica(shard, { ...own, hi: own.hi + 1 }), /do not start and end on whole words of listMask/);
      // A shard sends only its own citizens' arrays (another shard's are not its to change).
      if (own.hi < n) {
        wb.c.listMask[n - 1] ^= 1; // in the last word's tail
        wb.c.score[n - 1] += 1;
        wb.regionWatch[0] = 12345;
        assert.ok(empty(b.changes()), "a shard sends no other citizen's change");
      }
    }),
  );
});
