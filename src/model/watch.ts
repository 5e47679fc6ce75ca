// Where the system looks: today's detection probability per channel and cell, and, with
// targeting, the watch reallocated between regions by what was recorded there.
import type { MetricSet } from "../engine/counters.js";
import { CHANNELS, type Channel } from "../scenario/schema.js";
import { CHANNEL, type Phase, type Sim } from "./context.js";
import { recruitedShare, reportProbability } from "./informants.js";
/** Run-wide. */
export const WATCH_METRICS = {
  regionWatchMax: { name: "region_watch_max", unit: "weight (1 = even)", description: "Largest regional watch weight (targeting)", stock: true },
} satisfies MetricSet;

export type WatchPhase = Phase & { recorded: Float64Array };

/** Watch phase: today's detection probability per channel and cell, and where the system looks next. */
export function watchPhase(sim: Sim): WatchPhase {
  const { s: scenario, cells, groups } = sim;
  const observation = scenario.observation;
  const groupWatch = [1, ...scenario.population.groups.map((group) => group.watchMultiplier)];
  // At today's reward (the informants were recruited at day 0's: the two differ only if a timeline moves the reward).
  const informantP = observation.informants.enabled ? recruitedShare(scenario) * reportProbability(scenario) : 0;
  const recorded = new Float64Array(sim.regions);
  const regionPop = new Float64Array(sim.regions);
  for (let r = 0; r < sim.regions; r++) regionPop[r] = sim.c.regionStart[r + 1] - sim.c.regionStart[r];
  const { regionWatchMax: WEIGHT } = sim.global.indexOf(WATCH_METRICS);
  const targeting = observation.targeting;

  function reallocate(): void {
    // Ensign et al. (2018): allocating by recorded offences feeds on itself; dividing by the
    // current allocation estimates the true rate and breaks the loop.
    const target = new Float64Array(sim.regions);
    let total = 0, popTotal = 0;
    for (let r = 0; r < sim.regions; r++) {
      const perCapita = regionPop[r] ? recorded[r] / regionPop[r] : 0;
      target[r] = targeting.mode === "corrected" ? perCapita / sim.regionWatch[r] : perCapita;
      total += target[r] * regionPop[r];
      popTotal += regionPop[r];
    }
    if (total <= 0) return;
    for (let r = 0; r < sim.regions; r++) {
      sim.regionWatch[r] = (1 - targeting.share) * sim.regionWatch[r] + targeting.share * (target[r] * popTotal) / total;
    }
    recorded.fill(0);
  }

  return {
    name: "watch",
    day(sim) {
      if (targeting.enabled && sim.day > 0 && sim.day % targeting.everyDays === 0) reallocate();
      for (let cell = 0; cell < cells; cell++) {
        const group = cell % groups;
        const urban = Math.floor(cell / groups) % 2;
        const region = Math.floor(cell / groups / 2);
        const watch = groupWatch[group] * sim.regionWatch[region];
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
      for (let r = 0; r < sim.regions; r++) max = Math.max(max, sim.regionWatch[r]);
      sim.global.setStock(0, WEIGHT, max);
    },
    // Filled by the observation phase: recorded offences per region feed the next reallocation.
    recorded,
    state: { save: () => recorded, restore: (saved) => recorded.set(saved as Float64Array) },
  };
}
