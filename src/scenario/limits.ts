// What this machine can run, checked before a simulation allocates anything. The schema allows
// up to 2 billion citizens and 100 years (a scenario describes a regime, not a machine); this
// module estimates the memory a run needs and refuses one that cannot fit, saying what fits.
//
// The estimate follows the engine's stores (src/model/world.ts, src/model/graph.ts,
// src/engine/counters.ts) without importing them, so it can run before anything is built:
//   - per citizen: ~48 bytes of typed arrays (src/model/world.ts Citizens, 40 bytes, plus the
//     8-byte score deltas of the association pull), the friendship graph (16-bit slot starts, and
//     8 bytes of degree counters while it is built; per tie end a 16-bit friend difference, its
//     alive bit and far counts, 2.25 bytes; per long tie end 4 more, and 8 while it is built) and
//     the scored firms (13 bytes per firm). With 8 friends that is ~86 bytes; `npm run bench`
//     measures 63 bytes of state once the build's counters and the pull's deltas are freed.
//   - per day: the daily metric store, one float64 per (day, cell, metric), held twice (the
//     store and the daily_cell table built from it); cells = regions x urban/rural x groups.
//   - a fixed allowance for Node, DuckDB and the trail sample.
//   - on the V8 heap (JavaScript arrays, bounded by the heap limit, not by free memory): the
//     list members and the list event log, ~176 bytes per listing; assumed at most a tenth of
//     the population enters each list.
// A run must also respect V8's largest typed array (2^32 elements): the graph's slots
// holds population x friendsMean entries and the daily store days x cells x metrics.
import os from "node:os";
import { constants as bufferConstants } from "node:buffer";
import v8 from "node:v8";
import type { Problem } from "./load.js";
import type { Scenario } from "./schema.js";

const CITIZEN_BYTES = 48;
const GRAPH_FIXED_BYTES = 2 + 8;
const BYTES_PER_TIE_END = 2.25;
const BYTES_PER_LONG_TIE_END = 4 + 8;
const FIRM_BYTES = 13;
/** Node itself, DuckDB's writer, the trail sample and list logs: generous, measured ~150 MB. */
const FIXED_BYTES = 400 * 2 ** 20;
/** Leave this share of the available memory to everything else on the machine. */
const HEADROOM = 0.8;
/** Heap bytes per listing (member arrays and entry/exit log rows as float64), and listings per citizen and list. */
const HEAP_BYTES_PER_LISTING = (6 + 2 * 8) * 8;
const LISTED_SHARE = 0.05;

export interface Machine {
  /** Physical memory (or the cgroup limit, when lower). */
  totalBytes: number;
  /** Memory free for new allocations now. */
  availableBytes: number;
  /** V8's heap limit (for the JavaScript objects of a run: logs, trail events). */
  heapLimitBytes: number;
  /** Largest typed array, in elements. */
  maxArrayElements: number;
}

export function thisMachine(): Machine {
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.() ?? 0;
  const total = os.totalmem();
  const totalBytes = constrained > 0 && constrained < total ? constrained : total;
  return {
    totalBytes,
    availableBytes: Math.min(os.freemem(), totalBytes),
    heapLimitBytes: v8.getHeapStatistics().heap_size_limit,
    maxArrayElements: bufferConstants.MAX_LENGTH,
  };
}

export interface RunEstimate {
  bytesPerCitizen: number;
  bytesPerDay: number;
  fixedBytes: number;
  totalBytes: number;
  /** Of the JavaScript heap (list members and logs). */
  heapBytes: number;
  /** Elements of the largest typed arrays the run will allocate. */
  graphTieEnds: number;
  dailyCells: number;
}

/** Metrics declared per (day, cell): fixed ones, 7 per list, one per sanction and privilege. */
const dailyMetrics = (s: Scenario) => 40 + 7 * s.lists.length + 18;

export function estimateRun(s: Scenario, population = s.population.size, days = s.days): RunEstimate {
  const firms = s.mechanisms.firms && s.firms.enabled ? s.firms.perCitizen : 0;
  const bytesPerCitizen = CITIZEN_BYTES + GRAPH_FIXED_BYTES +
    (BYTES_PER_TIE_END + BYTES_PER_LONG_TIE_END * s.graph.longTieShare) * s.graph.friendsMean + FIRM_BYTES * firms;
  const cells = s.population.regions.length * 2 * (s.population.groups.length + 1);
  const bytesPerDay = cells * dailyMetrics(s) * 8 * 2;
  return {
    bytesPerCitizen,
    bytesPerDay,
    fixedBytes: FIXED_BYTES,
    totalBytes: FIXED_BYTES + bytesPerCitizen * population + bytesPerDay * days,
    heapBytes: population * s.lists.length * LISTED_SHARE * HEAP_BYTES_PER_LISTING,
    graphTieEnds: population * s.graph.friendsMean,
    dailyCells: days * cells * dailyMetrics(s),
  };
}

const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
const count = (n: number) => Math.max(0, Math.floor(n)).toLocaleString("en-US");

/**
 * Problems (empty when the run fits) for simulating `s` with `population` citizens for `days`
 * days on `machine`. `where` names the fields or options that set the sizes, e.g.
 * {population: "--population"} when the CLI overrode them.
 */
export function runLimitProblems(
  s: Scenario,
  options: { population?: number; days?: number; where?: { population?: string; days?: string } } = {},
  machine: Machine = thisMachine(),
): Problem[] {
  const population = options.population ?? s.population.size;
  const days = options.days ?? s.days;
  const popPath = options.where?.population ?? "population.size";
  const daysPath = options.where?.days ?? "days";
  const e = estimateRun(s, population, days);
  const budget = machine.availableBytes * HEADROOM;
  const out: Problem[] = [];

  // Whichever dominates the excess is the one to name; both get the largest value that fits.
  const maxPopulation = Math.min(
    (budget - e.fixedBytes - e.bytesPerDay * days) / e.bytesPerCitizen,
    s.graph.friendsMean > 0 ? machine.maxArrayElements / (s.graph.friendsMean * 1.05) : Infinity,
    e.heapBytes > 0 ? (machine.heapLimitBytes * HEADROOM) / (e.heapBytes / population) : Infinity,
  );
  const maxDays = Math.min(
    (budget - e.fixedBytes - e.bytesPerCitizen * population) / e.bytesPerDay,
    machine.maxArrayElements / (e.dailyCells / days),
  );
  const machineText =
    `this machine has ${gib(machine.availableBytes)} free of ${gib(machine.totalBytes)} ` +
    `(${Math.round(HEADROOM * 100)}% usable; ${e.bytesPerCitizen.toFixed(0)} bytes per citizen, ` +
    `${(e.bytesPerDay / 2 ** 20).toFixed(2)} MiB per simulated day)`;

  // Poisson degrees: allow 5% above the mean before the adjacency array would overflow.
  if (e.graphTieEnds * 1.05 > machine.maxArrayElements) {
    out.push({
      path: popPath,
      found: count(population),
      expected: `at most ${count(maxPopulation)} citizens with graph.friendsMean ${s.graph.friendsMean} ` +
        `(the friendship graph would exceed the largest array V8 can hold, ${count(machine.maxArrayElements)} entries)`,
    });
  } else if (e.dailyCells > machine.maxArrayElements) {
    out.push({
      path: daysPath,
      found: count(days),
      expected: `at most ${count(maxDays)} days with ${s.population.regions.length} regions and ` +
        `${s.population.groups.length + 1} groups (the daily metric store would exceed the largest array V8 can hold)`,
    });
  } else if (e.totalBytes > budget) {
    const perCitizenShare = e.bytesPerCitizen * population;
    const citizensDominate = perCitizenShare >= e.bytesPerDay * days;
    out.push(citizensDominate
      ? {
          path: popPath,
          found: count(population),
          expected: `at most ${count(maxPopulation)} citizens for ${count(days)} days: the run needs ~${gib(e.totalBytes)}, ${machineText}`,
        }
      : {
          path: daysPath,
          found: count(days),
          expected: `at most ${count(maxDays)} days for ${count(population)} citizens: the run needs ~${gib(e.totalBytes)}, ${machineText}`,
        });
  } else if (e.heapBytes > machine.heapLimitBytes * HEADROOM) {
    out.push({
      path: popPath,
      found: count(population),
      expected: `at most ${count(maxPopulation)} citizens with ${s.lists.length} lists: ` +
        `their list records need ~${gib(e.heapBytes)} of the JavaScript heap, whose limit is ${gib(machine.heapLimitBytes)} ` +
        `(raise it with NODE_OPTIONS=--max-old-space-size=<MiB>)`,
    });
  }
  return out;
}
