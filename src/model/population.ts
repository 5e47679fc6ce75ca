// Synthetic citizens: region, urban or rural, group, age band, sex, household, income and a
// propensity per behaviour class. Every value comes from the "population" stream; nothing
// real is ever read.
import { BEHAVIOUR_CLASSES, type Scenario } from "../scenario/schema.js";
import { hashInts } from "../engine/random.js";
import { type Citizens, type IdentityColumns, type World, FEMALE, URBAN, INFORMANT, PARTY, MAX_HOUSEHOLD, TRAITS, cellOf, makeStreams, type TrailSample } from "./world.js";
import { sharedArray, type NumericArray } from "../engine/columns.js";
import { buildGraph, emptyGraph, tieBlocks } from "./graph.js";
import type { BuildTask, Helpers } from "./build.js";
import { SyncWorker } from "../engine/sync-worker.js";
import { hazardBounds } from "./behaviour.js";
import { scenarioOn, scenariosInForce } from "../scenario/timeline.js";
import { recruitedShare } from "./informants.js";
import { STATE_COLUMNS } from "./regime.js";
import type { Built, ColumnArrays, StateColumn } from "./state-columns.js";

/** The module helper threads run their build tasks with (engine/build-worker.ts imports it). */
const BUILD_PROGRAM = new URL("./build-tasks.js", import.meta.url).href;

/** Split n into parts proportional to weights (largest remainder), so sizes are exact and stable. */
export function apportion(n: number, weights: number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  const raw = weights.map((w) => (n * w) / total);
  const out = raw.map(Math.floor);
  let left = n - out.reduce((a, b) => a + b, 0);
  const order = raw.map((r, i) => [r - Math.floor(r), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) out[order[k][1]]++;
  return out;
}

function pick(u: number, shares: number[]): number {
  let acc = 0;
  for (let k = 0; k < shares.length; k++) {
    acc += shares[k];
    if (u < acc) return k;
  }
  return shares.length - 1;
}

/**
 * Propensities are kept as a byte: 255 levels, evenly spaced in log, from 4.5 standard deviations
 * below the mean at the lowest activity of any age band to 4.5 above at the highest (code 0: no
 * activity). Neighbouring levels are 3 to 5 % apart, far finer than anything the propensity is
 * calibrated to, and 15 bytes per citizen lighter than five floats.
 */
function traitScale(sigma: number, activities: number[]): { values: Float64Array; lo: number; step: number } {
  const active = activities.filter((a) => a > 0);
  const shift = -0.5 * sigma * sigma;
  const lo = shift - 4.5 * sigma + Math.log(Math.min(1, ...active));
  const hi = shift + 4.5 * sigma + Math.log(Math.max(1, ...active));
  const step = Math.max((hi - lo) / 254, 1e-9);
  const values = Float64Array.from({ length: 256 }, (_, k) => (k === 0 ? 0 : Math.exp(lo + (k - 1) * step)));
  return { values, lo, step };
}

/** The propensity levels of each behaviour class (see traitScale). */
function traitScales(scenario: Scenario) {
  const activity = scenario.population.ageBands.map((b) => BEHAVIOUR_CLASSES.map((k) => b.activity[k] ?? 1));
  return BEHAVIOUR_CLASSES.map((_, k) => traitScale(scenario.population.propensitySigma, activity.map((a) => a[k])));
}

/**
 * The citizens of regions, whose ids c.regionStart already gives, each region from its own
 * stream. Regions are taken one at a time, largest first, from a counter that every thread of
 * the build shares (`claimed`), so that a thread that starts late or runs slower takes fewer.
 */
export function fillCitizens(scenario: Scenario, seed: number, citizens: IdentityColumns, claimed: Int32Array): void {
  const pop = scenario.population;
  const groups = pop.groups.length + 1;
  const C = BEHAVIOUR_CLASSES.length;
  const ageShares = pop.ageBands.map((b) => b.share);
  // Propensities are coded from their logarithm (-Infinity: no activity, code 0), which saves an
  // exp and a log per class and citizen, a fifth of the citizens' build. (Coding exp(log) instead
  // could only differ by a level where rounding lands within an ulp of a level's midpoint.)
  const logActivity = pop.ageBands.map((b) => BEHAVIOUR_CLASSES.map((k) => Math.log(b.activity[k] ?? 1)));
  const sigma = pop.propensitySigma;
  const traitShift = -0.5 * sigma * sigma; // keeps each log-normal propensity at mean 1
  const levels = traitScales(scenario);
  const lo = levels.map((l) => l.lo), step = levels.map((l) => l.step);
  const inc = pop.income;
  const incomeShift = Math.log(inc.median);
  // Drawn once, for every day of the run: informants and party members exist if any day's scenario has them;
  // as many informants as the reward in force on day 0 recruits.
  const inForce = scenariosInForce(scenario);
  const informantShare = inForce.some((s) => s.observation.informants.enabled) ? recruitedShare(scenarioOn(scenario, 0)) : 0;
  const partyShare = inForce.some((s) => s.observation.attention.enabled) ? scenario.observation.attention.memberShare : 0;
  const stream = makeStreams(seed).population;
  const fillBounds = hazardBounds(scenario, levels.map((l) => l.values));

  const regions = pop.regions.length;
  const bySize = Array.from({ length: regions }, (_, r) => r).sort((a, b) => citizens.regionStart[b + 1] - citizens.regionStart[b] - (citizens.regionStart[a + 1] - citizens.regionStart[a]) || a - b);
  for (let k = Atomics.add(claimed, 0, 1); k < regions; k = Atomics.add(claimed, 0, 1)) {
    const r = bySize[k];
    let id = citizens.regionStart[r];
    const end = citizens.regionStart[r + 1];
    const rng = stream.at(0, r);
    const groupShares = pop.groups.map((group) => group.shareByRegion?.[pop.regions[r].name] ?? group.share);
    const majority = Math.max(0, 1 - groupShares.reduce((a, b) => a + b, 0));
    const shares = [majority, ...groupShares];
    while (id < end) {
      // Households: 1 + Poisson(mean - 1) members sharing region, urbanity and group.
      const size = Math.min(end - id, MAX_HOUSEHOLD, 1 + rng.poisson(pop.householdMeanSize - 1));
      const urban = rng.next() < pop.regions[r].urbanShare ? 1 : 0;
      const group = pick(rng.next(), shares);
      const head = id;
      for (let m = 0; m < size; m++, id++) {
        citizens.cell[id] = cellOf(r, urban, group, groups);
        citizens.householdOffset[id] = id - head;
        const age = pick(rng.next(), ageShares);
        citizens.age[id] = age;
        let f = urban ? URBAN : 0;
        if (rng.next() < pop.femaleShare) f |= FEMALE;
        if (rng.next() < informantShare) f |= INFORMANT;
        if (rng.next() < partyShare) f |= PARTY;
        citizens.flags[id] = f;
        const income = Math.exp(incomeShift + inc.sigma * rng.normal()) * (urban ? inc.urbanPremium : 1);
        citizens.incomeBase[id] = income;
        for (let k = 0; k < C; k++) {
          const log = traitShift + sigma * rng.normal() + logActivity[age][k];
          citizens.traits[TRAITS * id + k] = log === -Infinity ? 0 : Math.min(255, Math.max(1, 1 + Math.round((log - lo[k]) / step[k])));
        }
      }
    }
    fillBounds(citizens, citizens.regionStart[r], end);
  }
}

/** The regime's state columns (model/regime.ts), on shared memory, each at its value on day 0. */
function stateColumns(built: Built): ColumnArrays<typeof STATE_COLUMNS> {
  const arrays: Record<string, NumericArray> = {};
  for (const [name, column] of Object.entries<StateColumn<NumericArray>>(STATE_COLUMNS)) {
    const array = sharedArray(column.type, built.c.n);
    const initial = column.initial?.(built);
    if (typeof initial === "number") array.fill(initial);
    else if (initial) array.set(initial);
    arrays[name] = array;
  }
  return arrays as ColumnArrays<typeof STATE_COLUMNS>;
}

/**
 * A synthetic population and its social graph, built on `threads` threads (the calling one and
 * helpers: build.ts); the world is the same for any number.
 */
export function createWorld(scenario: Scenario, seed: number, threads = 1): World {
  const n = scenario.population.size;
  const regions = scenario.population.regions.length;
  const groups = scenario.population.groups.length + 1;
  const cells = regions * 2 * groups;

  const population: IdentityColumns = {
    n,
    regionStart: sharedArray(Int32Array, regions + 1),
    cell: sharedArray(Uint16Array, n),
    age: sharedArray(Uint8Array, n),
    flags: sharedArray(Uint8Array, n),
    householdOffset: sharedArray(Uint8Array, n),
    incomeBase: sharedArray(Float32Array, n),
    traits: sharedArray(Uint8Array, TRAITS * n),
    hazardBound: sharedArray(Uint8Array, n),
  };
  const sizes = apportion(n, scenario.population.regions.map((r) => r.weight));
  for (let r = 0; r < regions; r++) population.regionStart[r + 1] = population.regionStart[r] + sizes[r];
  const sample: TrailSample = {
    key: hashInts(seed, 0x7a11),
    cut: n <= scenario.metrics.trailSample ? 4294967296 : Math.floor((scenario.metrics.trailSample / n) * 4294967296),
  };

  // A helper is worth starting only for a world of more than one block of ties.
  const helpers: Helpers = Array.from({ length: Math.min(threads, tieBlocks(n)) - 1 }, () => new SyncWorker<BuildTask, unknown>("build-worker.js", { module: BUILD_PROGRAM }));
  try {
    const claimed = sharedArray(Int32Array, 1);
    for (const h of helpers) h.post({ kind: "citizens", s: scenario, seed, c: population, claimed });
    fillCitizens(scenario, seed, population, claimed);
    for (const h of helpers) h.receive("the population build");
    // After the population: a state column may start from one of its columns (income from incomeBase).
    const citizens: Citizens = { ...population, ...stateColumns({ s: scenario, c: population }) };

    const cellPopulation = new Float64Array(cells);
    for (let i = 0; i < n; i++) cellPopulation[citizens.cell[i]]++;
    const world: World = {
      s: scenario, seed, n, days: scenario.days, day: 0, regions, groups, cells, cellPopulation, c: citizens,
      traitLevels: traitScales(scenario).map((l) => l.values),
      g: emptyGraph(n),
      regionWatch: new Float64Array(regions).fill(1),
      sample,
      streams: makeStreams(seed),
    };
    world.g = buildGraph(world, helpers);
    return world;
  } finally {
    for (const h of helpers) h.close({ kind: "close" });
  }
}
