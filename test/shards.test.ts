// Shards and threads: the population split into shards run on worker threads gives results
// bit-identical to one thread, whatever the number of threads.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { spawnSync } from "node:child_process";
import { simulate } from "../src/model/simulate.js";
import { BLOCK, partition, shardOwners } from "../src/engine/shards.js";
import { groupStarts, mostlySortedOrder, stableOrder } from "../src/engine/order.js";
import { loadScenario, reportedYear } from "../src/scenario/load.js";
import { makeScenario, tableDifference } from "./helpers.js";
import type { RunResult } from "../src/model/result.js";
import { trimmed } from "../src/engine/sync-worker.js";
import { IdMap } from "../src/engine/id-map.js";
import { QUANTUM, ShardCounters } from "../src/engine/counters.js";
import { createWorld } from "../src/model/population.js";
import { createSim, type Sim } from "../src/model/context.js";
import { DRAW, behaviourPhase, drawCandidates, drawClaimed } from "../src/model/behaviour.js";
import { OBSERVE, observationPhase } from "../src/model/observation.js";
import { watchPhase } from "../src/model/watch.js";
import { pointsPhase } from "../src/model/points.js";
import { associationPhase } from "../src/model/association.js";
import { kernel, ShardRunner } from "../src/model/kernels.js";
import { startShards } from "../src/model/shard.js";
import { declareMetrics } from "../src/model/regime.js";

test("partition: shards are contiguous runs of whole blocks covering everyone, at most one per thread", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 3_000_000 }), fc.integer({ min: 1, max: 64 }), (n, threads) => {
      const shards = partition(n, threads);
      assert.ok(shards.length >= 1 && shards.length <= threads);
      assert.equal(shards.length, Math.min(threads, Math.ceil(n / BLOCK)));
      assert.equal(shards[0].lo, 0);
      assert.equal(shards[shards.length - 1].hi, n);
      const owner = shardOwners(shards);
      shards.forEach((s, k) => {
        assert.equal(s.index, k);
        assert.equal(s.lo % BLOCK, 0);
        assert.ok(s.hi > s.lo, "no empty shard");
        if (k > 0) assert.equal(s.lo, shards[k - 1].hi);
        for (const i of [s.lo, s.hi - 1]) assert.equal(owner[i >>> 12], k);
      });
    }),
  );
});

test("stableOrder sorts by key and keeps the order of equal keys", () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 2 ** 31 - 1 }), { maxLength: 400 }), fc.integer({ min: 1, max: 50 }), (raw, spread) => {
      // Few distinct keys (ties) as often as many.
      const keys = Int32Array.from(raw, (k) => k % (spread * 1000) === k ? k : k % spread);
      const order = Array.from(stableOrder(keys, keys.length));
      const expected = Array.from(keys.keys()).sort((a, b) => keys[a] - keys[b] || a - b);
      assert.deepEqual(order, expected);
    }),
  );
});

test("mostlySortedOrder gives stableOrder's order, whatever share of rows comes in order", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 300 }), fc.boolean()), { maxLength: 400 }), (raw) => {
      // Rows in order by an ascending "actor", some held against someone else (as observations are).
      let actor = 0;
      const rows = raw.map(([k, own]) => { actor += k % 3; return { actor, key: own ? actor : k }; });
      const keys = Int32Array.from(rows, (r) => r.key), expected = Int32Array.from(rows, (r) => r.actor);
      assert.deepEqual(Array.from(mostlySortedOrder(keys, keys.length, expected)), Array.from(stableOrder(keys, keys.length)));
    }),
  );
});

test("groupStarts: rows placed batch by batch are grouped by neighbourhood of ids, each group's rows in the order placed", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 1, max: 3000 }), fc.array(fc.array(fc.nat(), { maxLength: 200 }), { maxLength: 4 }), fc.integer({ min: 0, max: 12 }), (lo, span, raw, shift) => {
      const batches = raw.map((b) => Int32Array.from(b, (k) => lo + (k % span)));
      const start = new Uint32Array(((span - 1) >>> shift) + 2);
      const n = groupStarts(batches, lo, shift, start);
      // Rows numbered in the order placed (the batches one after the other); placed where start says.
      const keys = batches.flatMap((b) => Array.from(b));
      assert.equal(n, keys.length);
      const placed = new Array<number>(n);
      keys.forEach((key, row) => (placed[start[(key - lo) >>> shift]++] = row));
      const group = (row: number) => (keys[row] - lo) >> shift;
      assert.deepEqual(placed, Array.from(keys.keys()).sort((a, b) => group(a) - group(b) || a - b));
    }),
  );
});

function assertIdentical(a: RunResult, b: RunResult, label: string): void {
  assert.deepEqual(b.summary, a.summary, `${label}: summary`);
  assert.equal(b.tables.length, a.tables.length);
  for (let t = 0; t < a.tables.length; t++) assert.equal(tableDifference(a.tables[t], b.tables[t]), null, `${label}: ${a.tables[t].name}`);
}

/** Every array of a world, by name. */
function worldArrays(w: ReturnType<typeof createWorld>): Map<string, ArrayBufferView> {
  const out = new Map<string, ArrayBufferView>([["cellPopulation", w.cellPopulation]]);
  for (const [name, v] of Object.entries({ ...w.c, ...w.g })) if (ArrayBuffer.isView(v)) out.set(name, v);
  w.traitLevels.forEach((x, k) => out.set(`traitLevels[${k}]`, x));
  return out;
}

test("threads: the population and its graph are the same, array for array, built on 1, 2, 3 or 6 threads", { timeout: 120_000 }, () => {
  const china = loadScenario(new URL("../../scenarios/china-2018.yaml", import.meta.url).pathname);
  const city = loadScenario(new URL("../../scenarios/city-pilot.yaml", import.meta.url).pathname);
  // Sizes with several regions and several blocks of ties per thread, and one with more threads than regions' halves.
  for (const [s, size] of [[china, 330_000], [city, 150_000]] as const) {
    const scenario = structuredClone(s);
    scenario.population.size = size;
    const one = worldArrays(createWorld(scenario, 11, 1));
    for (const threads of [2, 3, 6]) {
      const many = worldArrays(createWorld(scenario, 11, threads));
      assert.deepEqual([...many.keys()], [...one.keys()]);
      for (const [name, a] of one) {
        const b = many.get(name)!;
        assert.ok(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)), `${scenario.name} at ${size}: ${name} differs on ${threads} threads`);
      }
    }
  }
});

test("threads: 1, 2, 3 and 5 threads give bit-identical tables and summaries (every mechanism on)", { timeout: 120_000 }, () => {
  // 5 blocks of citizens, so that up to 5 shards exist; association, appeals, pull and decay on,
  // every channel erring, a small trail sample: every path that crosses shards is exercised.
  const s = makeScenario({
    population: { size: 5 * BLOCK - 123 },
    days: 70,
    metrics: { trailSample: 3_000 },
    scoring: { decayPerYear: 0.2, association: { enabled: true, householdShare: 0.3, friendShare: 0.2, pull: 0.05, pullEveryDays: 20 } },
    appeals: { enabled: true },
  });
  const one = simulate(s, { seed: 9, threads: 1 });
  assert.equal(one.stats.threads, 1);
  assert.ok(one.summary.association.charges > 1_000, `association charges: ${one.summary.association.charges}`);
  for (const threads of [2, 3, 5]) {
    const many = simulate(s, { seed: 9, threads });
    assert.equal(many.stats.threads, threads);
    assertIdentical(one, many, `${threads} threads`);
  }
});

test("threads: the national scenario gives the same run on 1 and 2 threads", { timeout: 120_000 }, () => {
  const s = reportedYear(loadScenario(new URL("../../scenarios/china-2018.yaml", import.meta.url).pathname));
  const a = simulate(s, { seed: 4, population: 40_000, days: 40, threads: 1 });
  const b = simulate(s, { seed: 4, population: 40_000, days: 40, threads: 2 });
  assertIdentical(a, b, "china-2018");
  // The time the calling thread waits for workers is part of the phases' time, and none without workers.
  assert.equal(a.stats.workerWaitSeconds, 0);
  const phases = Object.values(b.stats.phaseSeconds).reduce((x, y) => x + y, 0);
  assert.ok(b.stats.workerWaitSeconds > 0 && b.stats.workerWaitSeconds < phases, `waited ${b.stats.workerWaitSeconds} s of ${phases} s`);
});

/** A started pool of three shards (two workers) over `blocks` blocks of citizens, its phases declared. */
function startedPool(blocks: number): { sim: Sim; pool: ShardRunner } {
  const sim = createSim(createWorld(makeScenario({ population: { size: blocks * BLOCK } }), 1));
  const pool = new ShardRunner(sim, 3);
  declareMetrics(sim);
  behaviourPhase(sim, pool);
  associationPhase(sim, pool, pointsPhase(sim, pool, observationPhase(sim, watchPhase(sim), pool)));
  sim.metrics.allocate();
  startShards(sim, pool);
  return { sim, pool };
}

test("a shard whose task fails answers with the error, and the caller throws it rather than wait", { timeout: 60_000 }, () => {
  const { pool } = startedPool(3);
  try {
    assert.equal(pool.run(OBSERVE, 0, undefined).length, 3, "three shards answer a good task");
    const bad = (shard: { index: number }) => (shard.index === 2 ? { part: "observation", kernel: "no-such-task", day: 1 } : { part: "observation", kernel: "observe", day: 1 });
    assert.throws(() => pool.pool.run(bad), /shard 2: .*no such shard task: "observation"."no-such-task"/s);
    assert.throws(() => pool.run(kernel("nowhere", "observe"), 1, undefined), /no such shard task: "nowhere"/);
  } finally {
    pool.close();
  }
});

test("background tasks: their answers are kept apart from the tasks run while they were out", { timeout: 60_000 }, () => {
  const blocks = 40; // three chunks of draws
  const { sim, pool } = startedPool(blocks);
  try {
    assert.equal(pool.workers, 2);
    // Both workers take chunks of day 5's draws from one counter; meanwhile every shard runs a task of its own.
    const claim = new Int32Array(new SharedArrayBuffer(4));
    pool.startInBackground(DRAW, 5, [claim, claim]);
    assert.throws(() => pool.startInBackground(DRAW, 5, []), /already running/);
    assert.throws(() => pool.startInBackground(OBSERVE, 5, [undefined, undefined]), /reads the day's state: it cannot run in the background/);
    const observed = pool.run(OBSERVE, 0, undefined);
    assert.ok(observed.every((r) => r.out.obs && !Array.isArray(r.out)), "the run's answers are its own");
    const drawn = [...drawClaimed(sim, 5, claim), ...pool.takeBackground(DRAW).flatMap((r) => r.out)];
    assert.deepEqual(drawn.map(([k]) => k).sort(), [0, 1, 2], "each chunk drawn once, by one thread");
    const parts = drawn.sort((a, b) => a[0] - b[0]).map(([, c]) => c);
    const here = drawCandidates(sim, 5, 0, blocks);
    assert.ok(here.agent.length > 1000, "some citizens are candidates");
    assert.deepEqual(parts.flatMap((c) => [...c.agent]), [...here.agent], "the same candidates as drawn in one piece");
    assert.deepEqual(parts.flatMap((c) => [...c.u]), [...here.u], "the same draws");
    assert.throws(() => pool.takeBackground(DRAW), /no background task/);
  } finally {
    pool.close();
  }
});

test("messages to and from workers carry only the viewed part of a grown buffer", () => {
  const grown = new Float64Array(1000);
  const shared = new Int32Array(new SharedArrayBuffer(400));
  const whole = new Int32Array(5);
  const message = trimmed({ kind: "points", day: 3, obs: { a: grown.subarray(10, 20) }, list: [grown.subarray(0, 2), shared.subarray(0, 3), whole] });
  assert.equal(message.obs.a.buffer.byteLength, 80, "a view of 10 of 1000 values carries 10");
  assert.equal(message.list[0].buffer.byteLength, 16);
  assert.equal(message.list[1].buffer, shared.buffer, "a view on shared memory stays shared");
  assert.equal(message.list[2], whole, "an array that is its whole buffer is not copied");
  assert.equal(message.day, 3);
  grown[10] = 7;
  assert.equal(message.obs.a[0], 0, "a copy, not a view");
});

test("a shard's counts travel as the entries it touched, and start again from zero", () => {
  const counters = new ShardCounters(4, ["a", "b", "c"]);
  counters.add(0, 2, 1, 1.5);
  counters.add(0, 2, 1, 1);
  counters.addStock(3, 0, -2);
  counters.add(0, 0, 2, 0.25);
  counters.add(0, 0, 2, -0.25); // back to zero: nothing to send
  const taken = counters.take();
  assert.deepEqual([...taken.at], [2 * 3 + 1, 3 * 3 + 0]);
  assert.deepEqual([...taken.flows], [2.5 * QUANTUM, 0]);
  assert.deepEqual([...taken.stocks], [0, -2 * QUANTUM]);
  assert.equal(counters.take().at.length, 0, "taken counts are gone");
});

test("threads start whatever options the caller has: a script given with -e (--input-type) and process-wide ones (--max-old-space-size)", { timeout: 120_000 }, () => {
  const dist = new URL("../src/index.js", import.meta.url).href;
  const script = `const { simulate } = await import(${JSON.stringify(dist)});
    const { makeScenario } = await import(${JSON.stringify(new URL("./helpers.js", import.meta.url).href)});
    const r = simulate(makeScenario({ population: { size: 3 * 4096 } }), { seed: 1, days: 3, threads: 2 });
    console.log(r.stats.threads);`;
  // Workers loaded from a file cannot start under --input-type; workers given options explicitly reject process-wide ones.
  const run = spawnSync(process.execPath, ["--max-old-space-size=2048", "--input-type=module", "-e", script], { encoding: "utf8", timeout: 90_000 });
  assert.equal(run.status, 0, run.stderr || "timed out: a worker could not load");
  assert.equal(run.stdout.trim(), "2");
});

test("IdMap answers as a Map would, through any sequence of sets, deletes and growth", () => {
  // Keys from a pool: random ids collide in the table (as scattered citizens do), and some
  // consecutive ones (households) do not; ops pick keys from the pool by index.
  const keys = fc.array(fc.oneof(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 64 })), { minLength: 1, maxLength: 400 });
  const op = fc.tuple(fc.constantFrom("set", "set", "delete", "get"), fc.nat(), fc.double({ noNaN: true }));
  fc.assert(
    fc.property(keys, fc.array(op, { minLength: 500, maxLength: 4000 }), (pool, ops) => {
      const map = new IdMap(), expected = new Map<number, number>();
      for (const [kind, k, v] of ops) {
        const key = pool[k % pool.length];
        if (kind === "set") { map.set(key, v); expected.set(key, v); }
        if (kind === "delete") assert.equal(map.delete(key), expected.delete(key));
        assert.equal(map.get(key, NaN), expected.has(key) ? expected.get(key) : NaN);
        assert.equal(map.size, expected.size);
      }
      for (const key of pool) assert.equal(map.get(key, NaN), expected.has(key) ? expected.get(key) : NaN);
    }),
    { numRuns: 400 },
  );
});
