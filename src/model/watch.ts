// Where the system looks: today's detection probability per channel and cell, and, with
// targeting, the watch reallocated between regions, or population groups, by what was recorded there.
import type { MetricSet } from "../engine/counters.js";
import { CHANNELS, type Channel, type Scenario } from "../scenario/schema.js";
import { CHANNEL, type Phase, type Sim } from "./context.js";
import { recruitedShare, reportProbability } from "./informants.js";
/** Run-wide. */
export const WATCH_METRICS = {
  regionWatchMax: { name: "region_watch_max", unit: "weight (1 = even)", description: "Largest regional watch weight (targeting)", stock: true },
} satisfies MetricSet;

/** Per cell. */
export const WATCH_CELL_METRICS = {
  watchWeight: {
    name: "watch_weight", unit: "people x weight (1 = even)", stock: true,
    description: "Targeting's watch weight (its region's times its group's) summed over the cell's people: divided by population, the mean weight",
  },
} satisfies MetricSet;

export type WatchPhase = Phase & { recorded: Float64Array };

/** The channels targeting counts (punished acts they record), each counted apart: recorded[unit * TARGETED + k]. */
const TARGETED = [CHANNEL.cameras, CHANNEL.online];

/**
 * What targeting reads, as the observation channels count it: per unit (the regions, then the
 * groups) and targeted channel, in an array of `recordedLength` entries.
 */
export const recordedLength = (w: { regions: number; groups: number }): number => (w.regions + w.groups) * TARGETED.length;
/** Count a targeted record in `cell` by channel `ch` (cameras or online), for its region and its group. */
export function countRecorded(recorded: Float64Array, w: { regions: number; groups: number }, cell: number, ch: number): void {
  const k = ch === CHANNEL.cameras ? 0 : 1;
  recorded[Math.floor(cell / w.groups / 2) * TARGETED.length + k]++;
  recorded[(w.regions + (cell % w.groups)) * TARGETED.length + k]++;
}

type Mode = Scenario["observation"]["targeting"]["mode"];

/**
 * What each unit's share of the watch should be, per head (before normalising), from what was
 * recorded there in a period (`recorded`, per unit and targeted channel) and the exposure
 * (people times coverage, per unit and channel) the watch gave it.
 * recorded: records per head. Ensign et al. (2018): allocating by it feeds on itself, since
 * where one looks more one records more.
 * corrected: records over those expected were each unit's true rate the national one (each
 * channel's records nationally over its exposure, times the unit's exposure): an estimate of
 * the unit's true rate relative to the national, whatever its watch, urban share or groups.
 * A unit with no exposure gives no information: 1.
 */
export function targetPerHead(mode: Mode, recorded: Float64Array, exposure: Float64Array, pop: Float64Array): Float64Array {
  const units = pop.length, K = TARGETED.length;
  const target = new Float64Array(units);
  if (mode === "recorded") {
    for (let u = 0; u < units; u++) {
      let count = 0;
      for (let k = 0; k < K; k++) count += recorded[u * K + k];
      target[u] = pop[u] ? count / pop[u] : 0;
    }
    return target;
  }
  const national = Array.from({ length: K }, (_, k) => {
    let rec = 0, exp = 0;
    for (let u = 0; u < units; u++) { rec += recorded[u * K + k]; exp += exposure[u * K + k]; }
    return exp > 0 ? rec / exp : 0;
  });
  for (let u = 0; u < units; u++) {
    let count = 0, expected = 0;
    for (let k = 0; k < K; k++) { count += recorded[u * K + k]; expected += exposure[u * K + k] * national[k]; }
    target[u] = expected > 0 ? count / expected : 1;
  }
  return target;
}

/** Move `share` of the watch to `target` (per head, normalised so that the population's mean weight stays 1). */
export function moveWatch(weights: Float64Array, target: Float64Array, pop: Float64Array, share: number): void {
  let total = 0, popTotal = 0;
  for (let u = 0; u < pop.length; u++) {
    total += target[u] * pop[u];
    popTotal += pop[u];
  }
  if (total <= 0) return;
  for (let u = 0; u < pop.length; u++) weights[u] = (1 - share) * weights[u] + share * (target[u] * popTotal) / total;
}

/** Watch phase: today's detection probability per channel and cell, and where the system looks next. */
export function watchPhase(sim: Sim): WatchPhase {
  const { s: scenario, cells, groups, regions } = sim;
  const observation = scenario.observation;
  const groupWatch = [1, ...scenario.population.groups.map((group) => group.watchMultiplier)];
  // At today's reward (the informants were recruited at day 0's: the two differ only if a timeline moves the reward).
  const informantP = observation.informants.enabled ? recruitedShare(scenario) * reportProbability(scenario) : 0;
  const recorded = new Float64Array(recordedLength(sim));
  // Targeting's weights: the regions' are the world's (sim.regionWatch), the groups' are kept here.
  const groupTarget = new Float64Array(groups).fill(1);
  const regionOf = (cell: number) => Math.floor(cell / groups / 2), groupOf = (cell: number) => cell % groups;
  const popOf = (units: number, unitOf: (cell: number) => number) => {
    const pop = new Float64Array(units);
    for (let cell = 0; cell < cells; cell++) pop[unitOf(cell)] += sim.cellPopulation[cell];
    return pop;
  };
  const regionPop = popOf(regions, regionOf), groupPop = popOf(groups, groupOf);
  const { regionWatchMax: WEIGHT } = sim.global.indexOf(WATCH_METRICS);
  const { watchWeight: WATCH_WEIGHT } = sim.metrics.indexOf(WATCH_CELL_METRICS);
  const targeting = observation.targeting;
  const K = TARGETED.length;

  /** Reallocate one kind of unit's weights from its part of `recorded` (from `offset`), with the exposure of the period now ending. */
  function reallocate(weights: Float64Array, pop: Float64Array, unitOf: (cell: number) => number, offset: number): void {
    const units = pop.length;
    const exposure = new Float64Array(units * K);
    for (let cell = 0; cell < cells; cell++) {
      for (let k = 0; k < K; k++) exposure[unitOf(cell) * K + k] += sim.cellPopulation[cell] * sim.coverage[TARGETED[k]][cell];
    }
    const counts = recorded.subarray(offset * K, (offset + units) * K);
    moveWatch(weights, targetPerHead(targeting.mode, counts, exposure, pop), pop, targeting.share);
  }

  return {
    name: "watch",
    day(sim) {
      if (targeting.enabled && sim.day > 0 && sim.day % targeting.everyDays === 0) {
        // Both from the coverage of the period now ending (this loop sets the next one's below).
        if (targeting.by !== "group") reallocate(sim.regionWatch, regionPop, regionOf, 0);
        if (targeting.by !== "region") reallocate(groupTarget, groupPop, groupOf, regions);
        recorded.fill(0);
      }
      for (let cell = 0; cell < cells; cell++) {
        const group = groupOf(cell);
        const urban = Math.floor(cell / groups) % 2;
        const region = regionOf(cell);
        const targeted = sim.regionWatch[region] * groupTarget[group];
        const watch = groupWatch[group] * targeted;
        sim.metrics.setStock(cell, WATCH_WEIGHT, sim.cellPopulation[cell] * targeted);
        const cam = observation.cameras.enabled ? Math.min(1, (urban ? observation.cameras.coverageUrban : observation.cameras.coverageRural) * watch) : 0;
        // Keyed by channel name, so that the declaration (CHANNELS) sets the order and a channel
        // added there without a coverage here fails to compile instead of shifting the others.
        const covered: Record<Channel, number> = {
          cameras: cam,
          records: observation.records.enabled ? observation.records.coverage : 0,
          online: observation.online.enabled ? Math.min(1, observation.online.coverage * watch) : 0,
          informants: informantP,
          attention: 0,
        };
        for (let ch = 0; ch < CHANNELS.length; ch++) {
          const coverage = covered[CHANNELS[ch]];
          sim.coverage[ch][cell] = coverage;
          sim.detect[ch][cell] = ch === CHANNEL.cameras ? cam * observation.cameras.trueMatchRate : coverage;
        }
      }
      let max = 0;
      for (let r = 0; r < regions; r++) max = Math.max(max, sim.regionWatch[r]);
      sim.global.setStock(0, WEIGHT, max);
    },
    // Filled by the observation phase: recorded offences per unit and channel feed the next reallocation.
    recorded,
    state: {
      save: () => ({ recorded, groupTarget }),
      restore(saved) {
        const { recorded: r, groupTarget: g } = saved as { recorded: Float64Array; groupTarget: Float64Array };
        const fits = (a: unknown, n: number) => a instanceof Float64Array && a.length === n && a.every((v) => v >= 0 && v < Infinity);
        if (!fits(r, recorded.length) || !fits(g, groups)) {
          throw new Error(`watch: the checkpoint's targeting counts and group weights are not ${recorded.length} and ${groups} finite numbers of at least 0`);
        }
        recorded.set(r);
        groupTarget.set(g);
      },
    },
  };
}
