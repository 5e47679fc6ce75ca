// Visible scores: where an app shows people their contacts' scores (a dating app, a citizen app
// with friends' grades), contacts drop their ties to those whose score is low, at a yearly rate,
// for as long as it stays low. Ties are dropped as shaming drops them (shaming.ts). The run
// reports the isolation of the low-scored beside everyone else's: their people and their ties,
// alive and at the start, per cell each day.
import type { MetricSet } from "../engine/counters.js";
import { aliveDegree, initialDegree } from "./graph.js";
import { dropTiesWithProbability } from "./shaming.js";
import type { Phase, Sim } from "./context.js";

export const VISIBILITY_METRICS = {
  tiesDropped: { name: "ties_dropped_low_score", unit: "friendships", description: "Friendships dropped because an app showed the person's low score (by their cell)" },
  lowScored: { name: "low_scored", unit: "people", description: "People whose score is below visibility.lowScoreBelow (with visibility on)", stock: true },
  lowTiesAlive: { name: "low_scored_ties_alive", unit: "friendships", description: "Friendships the low-scored still have", stock: true },
  lowTiesInitial: { name: "low_scored_ties_initial", unit: "friendships", description: "Friendships the low-scored had at the start", stock: true },
  otherTiesAlive: { name: "other_ties_alive", unit: "friendships", description: "Friendships everyone else still has", stock: true },
  otherTiesInitial: { name: "other_ties_initial", unit: "friendships", description: "Friendships everyone else had at the start", stock: true },
} satisfies MetricSet;

export function visibilityPhase(sim: Sim, tieDropped: (i: number, j: number) => void): Phase {
  const v = sim.s.visibility;
  const on = sim.s.mechanisms.visibility && v.enabled;
  const M = sim.metrics.indexOf(VISIBILITY_METRICS);
  const bands = [M.lowScored, M.lowTiesAlive, M.lowTiesInitial, M.otherTiesAlive, M.otherTiesInitial];
  /** Per metric of `bands`, per cell: today's value (set as the stock at the end of the pass). */
  const counts = bands.map(() => new Float64Array(sim.cells));
  const perDay = v.dropPerYear / 365;

  return {
    name: "visibility",
    day(sim) {
      if (!on) return;
      const { score, cell } = sim.c, g = sim.g;
      // Streams: shaming's blocks 0 and 1 are its own.
      const rng = sim.streams.shaming.at(sim.day, 2);
      for (const c of counts) c.fill(0);
      for (let i = 0; i < sim.n; i++) {
        const low = score[i] < v.lowScoreBelow;
        if (low) dropTiesWithProbability(sim, rng, i, perDay, M.tiesDropped, tieDropped);
        const ce = cell[i];
        if (low) counts[0][ce]++;
        counts[low ? 1 : 3][ce] += aliveDegree(g, i);
        counts[low ? 2 : 4][ce] += initialDegree(g, i);
      }
      bands.forEach((m, k) => { for (let ce = 0; ce < sim.cells; ce++) sim.metrics.setStock(ce, m, counts[k][ce]); });
    },
  };
}
