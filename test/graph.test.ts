// The compressed friendship graph: whatever the scenario's graph, every tie reads back as the
// same friend on both sides, the 16-bit and far encodings agree, and the slot starts survive
// any degree.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { FAR, farRank, friendAt, isAlive, slotStart, type Graph } from "../src/model/world.js";
import { aliveDegree, dropTie, initialDegree, slotRanges } from "../src/model/graph.js";
import { createWorld } from "../src/model/population.js";
import { makeScenario } from "./helpers.js";

/** Friends of i the way hot loops read them: the far index computed once, then counted. */
function friendsByLoop(g: Graph, i: number): number[] {
  const out: number[] = [];
  const end = slotStart(g, i + 1);
  for (let e = slotStart(g, i), r = farRank(g, e); e < end; e++) {
    const d = g.near[e];
    out.push(d !== FAR ? i + d : g.far[r++]);
  }
  return out;
}

test("graph: symmetric, both readings agree, FAR only for ties beyond 16 bits, the far table used exactly", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 50, max: 90_000 }),
      fc.double({ min: 0, max: 12, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.integer({ min: 2, max: 200_000 }),
      fc.integer({ min: 1, max: 1000 }),
      fc.integer({ min: 1, max: 3 }),
      (size, friendsMean, longTieShare, neighbourhood, seed, threads) => {
        const w = createWorld(makeScenario({ population: { size }, graph: { friendsMean, longTieShare, neighbourhood } }), seed, threads);
        const g = w.g, n = w.n;
        const ties = new Map<string, number>();
        let slots = 0;
        for (let i = 0; i < n; i++) {
          const byLoop = friendsByLoop(g, i);
          assert.equal(byLoop.length, initialDegree(g, i));
          assert.equal(aliveDegree(g, i), byLoop.length, "every tie alive at the start");
          byLoop.forEach((j, k) => {
            const e = slotStart(g, i) + k;
            assert.equal(friendAt(g, i, e), j, `slot ${e} of ${i}`);
            assert.ok(j >= 0 && j < n && j !== i, `friend ${j} of ${i}`);
            assert.equal(g.near[e] === FAR, Math.abs(j - i) > 32767, `slot ${e}: ${i} -> ${j}`);
            const key = `${Math.min(i, j)},${Math.max(i, j)}`;
            ties.set(key, (ties.get(key) ?? 0) + (i < j ? 1 : -1));
          });
          slots += byLoop.length;
        }
        assert.equal(slots, slotStart(g, n));
        assert.equal(farRank(g, slots), g.far.length, "every far friend has its slot");
        for (const [key, balance] of ties) assert.equal(balance, 0, `tie ${key} seen as often from both sides`);
      },
    ),
    { numRuns: 25 },
  );
});

test("graph: dropping a tie removes it on both sides and nowhere else", () => {
  const w = createWorld(makeScenario({ population: { size: 70_000 }, graph: { friendsMean: 10, longTieShare: 0.5, neighbourhood: 100_000 } }), 3);
  const g = w.g;
  let farDropped = 0;
  for (let i = 0; i < w.n; i += 97) {
    const e = slotStart(g, i);
    if (initialDegree(g, i) === 0 || !isAlive(g, e)) continue;
    const j = friendAt(g, i, e);
    const before = [aliveDegree(g, i), aliveDegree(g, j)];
    if (g.near[e] === FAR) farDropped++;
    assert.equal(dropTie(g, i, e), j);
    assert.deepEqual([aliveDegree(g, i), aliveDegree(g, j)], [before[0] - 1, before[1] - 1]);
    assert.equal(dropTie(g, i, e), -1, "already dropped");
    assert.equal(initialDegree(g, i), friendsByLoop(g, i).length, "initial degree kept");
  }
  assert.ok(farDropped > 50, `far ties dropped: ${farDropped}`);
});

test("graph: slot starts survive any degrees, with fewer citizens per 32-bit base when ties crowd", () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 70_000 })), { minLength: 1, maxLength: 400 }), (degrees) => {
      const n = degrees.length;
      const start = new Uint32Array(n + 1);
      degrees.forEach((d, i) => (start[i + 1] = start[i] + d));
      const { base, offset, groupShift } = slotRanges(start, n);
      const g = { base, offset, groupShift } as Graph;
      for (let i = 0; i <= n; i++) assert.equal(slotStart(g, i), start[i], `start of ${i} (shift ${groupShift})`);
      if (degrees.every((d) => d <= 20)) assert.equal(groupShift, 6);
    }),
  );
});
