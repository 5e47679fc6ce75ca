// Synthetic citizens: region, urban or rural, group, age band, sex, household, income and a
// propensity per behaviour class. Every value comes from the "population" stream; nothing
// real is ever read.
import { BEHAVIOUR_CLASSES, type Scenario } from "../scenario/schema.js";
import { hashInts } from "../engine/random.js";
import {
  type Citizens, type World, FEMALE, URBAN, INFORMANT, PARTY, MAX_HOUSEHOLD, cellOf, makeStreams, sharedArray, type TrailSample,
} from "../engine/world.js";
import { buildGraph, emptyGraph } from "./graph.js";

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
function traitScale(sigma: number, activities: number[]): { values: Float64Array; code(v: number): number } {
  const active = activities.filter((a) => a > 0);
  const shift = -0.5 * sigma * sigma;
  const lo = shift - 4.5 * sigma + Math.log(Math.min(1, ...active));
  const hi = shift + 4.5 * sigma + Math.log(Math.max(1, ...active));
  const step = Math.max((hi - lo) / 254, 1e-9);
  const values = Float64Array.from({ length: 256 }, (_, k) => (k === 0 ? 0 : Math.exp(lo + (k - 1) * step)));
  return {
    values,
    code: (v) => (v > 0 ? Math.min(255, Math.max(1, 1 + Math.round((Math.log(v) - lo) / step))) : 0),
  };
}

export function createWorld(s: Scenario, seed: number): World {
  const n = s.population.size;
  const regions = s.population.regions.length;
  const groups = s.population.groups.length + 1;
  const cells = regions * 2 * groups;
  const streams = makeStreams(seed);
  const C = BEHAVIOUR_CLASSES.length;

  const c: Citizens = {
    n,
    regionStart: sharedArray(Int32Array, regions + 1),
    cell: sharedArray(Uint16Array, n),
    age: sharedArray(Uint8Array, n),
    flags: sharedArray(Uint8Array, n),
    householdOffset: sharedArray(Uint8Array, n),
    incomeBase: sharedArray(Float32Array, n),
    income: sharedArray(Float32Array, n),
    trait: BEHAVIOUR_CLASSES.map(() => sharedArray(Uint8Array, n)),
    score: sharedArray(Float32Array, n).fill(s.scoring.initial),
    errorFree: sharedArray(Float32Array, n).fill(s.scoring.initial),
    assocPoints: sharedArray(Float32Array, n),
    lastPenalty: sharedArray(Uint16Array, n),
    listMask: sharedArray(Uint8Array, n),
    sanctionMask: sharedArray(Uint16Array, n),
    privilegeMask: sharedArray(Uint16Array, n),
    firmRestrictions: sharedArray(Uint8Array, n),
    blockedCount: sharedArray(Uint8Array, n),
    hazardBound: sharedArray(Uint8Array, n),
  };

  const pop = s.population;
  const sizes = apportion(n, pop.regions.map((r) => r.weight));
  const ageShares = pop.ageBands.map((b) => b.share);
  const activity = pop.ageBands.map((b) => BEHAVIOUR_CLASSES.map((k) => b.activity[k] ?? 1));
  const sigma = pop.propensitySigma;
  const traitShift = -0.5 * sigma * sigma; // keeps each log-normal propensity at mean 1
  const levels = BEHAVIOUR_CLASSES.map((_, k) => traitScale(sigma, activity.map((a) => a[k])));
  const inc = pop.income;
  const incomeShift = Math.log(inc.median);
  const informantShare = s.observation.informants.enabled ? s.observation.informants.share : 0;
  const partyShare = s.observation.attention.enabled ? s.observation.attention.memberShare : 0;
  const sample: TrailSample = {
    key: hashInts(seed, 0x7a11),
    cut: n <= s.metrics.trailSample ? 4294967296 : Math.floor((s.metrics.trailSample / n) * 4294967296),
  };

  let id = 0;
  for (let r = 0; r < regions; r++) {
    c.regionStart[r] = id;
    const end = id + sizes[r];
    const rng = streams.population.at(0, r);
    const groupShares = pop.groups.map((g) => g.shareByRegion?.[pop.regions[r].name] ?? g.share);
    const majority = Math.max(0, 1 - groupShares.reduce((a, b) => a + b, 0));
    const shares = [majority, ...groupShares];
    while (id < end) {
      // Households: 1 + Poisson(mean - 1) members sharing region, urbanity and group.
      const size = Math.min(end - id, MAX_HOUSEHOLD, 1 + rng.poisson(pop.householdMeanSize - 1));
      const urban = rng.next() < pop.regions[r].urbanShare ? 1 : 0;
      const group = pick(rng.next(), shares);
      const head = id;
      for (let m = 0; m < size; m++, id++) {
        c.cell[id] = cellOf(r, urban, group, groups);
        c.householdOffset[id] = id - head;
        const age = pick(rng.next(), ageShares);
        c.age[id] = age;
        let f = urban ? URBAN : 0;
        if (rng.next() < pop.femaleShare) f |= FEMALE;
        if (rng.next() < informantShare) f |= INFORMANT;
        if (rng.next() < partyShare) f |= PARTY;
        c.flags[id] = f;
        const income = Math.exp(incomeShift + inc.sigma * rng.normal()) * (urban ? inc.urbanPremium : 1);
        c.incomeBase[id] = income;
        c.income[id] = income;
        for (let k = 0; k < C; k++) c.trait[k][id] = levels[k].code(Math.exp(traitShift + sigma * rng.normal()) * activity[age][k]);
      }
    }
  }
  c.regionStart[regions] = n;

  const cellPopulation = new Float64Array(cells);
  for (let i = 0; i < n; i++) cellPopulation[c.cell[i]]++;

  const w: World = {
    s, seed, n, days: s.days, day: 0, regions, groups, cells, cellPopulation, c,
    traitLevels: levels.map((l) => l.values),
    g: emptyGraph(n),
    regionWatch: new Float64Array(regions).fill(1),
    sample,
    streams,
  };
  w.g = buildGraph(w);
  return w;
}
