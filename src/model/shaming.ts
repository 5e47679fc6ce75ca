// Public shaming and tie dropping: contacts drop a blacklisted person, at once when the
// listing is published (the "deadbeat map"), less when word only gets around, and slowly
// for as long as the listing lasts.
import type { MetricSet } from "../engine/counters.js";
import type { Rng } from "../engine/random.js";
import { EV, DT } from "../metrics/trail.js";
import { dropTie } from "./graph.js";
import { isAlive, slotStart } from "./world.js";
import { READ_AHEAD, record, type Phase, type Sim } from "./context.js";
import type { DenseSet } from "./consequences.js";

/** `tieDropped` hears of each friendship dropped (collect keeps the blacklisted's ties counted). */
export const SHAMING_METRICS = {
  tiesDropped: { name: "ties_dropped", unit: "friendships", description: "Friendships dropped because of a listing (by the listed person's cell)" },
} satisfies MetricSet;

/**
 * Each of i's remaining ties is dropped with probability p (one draw per tie, in slot order):
 * counted in `metric` at i's cell, told to `tieDropped`, and written in both trails.
 */
export function dropTiesWithProbability(sim: Sim, rng: Rng, i: number, p: number, metric: number, tieDropped: (i: number, j: number) => void): void {
  if (p <= 0) return;
  const graph = sim.g;
  for (let e = slotStart(graph, i), end = slotStart(graph, i + 1); e < end; e++) {
    if (!isAlive(graph, e) || rng.next() >= p) continue;
    const j = dropTie(graph, i, e);
    tieDropped(i, j);
    sim.metrics.add(sim.day, sim.c.cell[i], metric, 1);
    record(sim, i, { event: EV["tie-dropped"], other: j, detail: DT["dropped-by-contact"] });
    record(sim, j, { event: EV["tie-dropped"], other: i, detail: DT["dropped-contact"] });
  }
}

export function shamingPhase(sim: Sim, blacklisted: DenseSet, tieDropped: (i: number, j: number) => void): Phase {
  const { s: scenario, c: citizens, g: graph } = sim;
  const sh = scenario.shaming;
  const on = scenario.mechanisms.shaming && sh.enabled;
  const metrics = sim.metrics;
  const { tiesDropped: DROPPED } = metrics.indexOf(SHAMING_METRICS);
  const black = scenario.lists.map((l) => l.kind === "black");
  const published = scenario.lists.map((l) => l.published);
  let entryRng: Rng | undefined;
  let entryDay = -1;

  const dropWithProbability = (rng: Rng, i: number, p: number) => dropTiesWithProbability(sim, rng, i, p, DROPPED, tieDropped);

  /** Read and discard the first tie flags of people [from, to), branch-free, before the loop with draws (see READ_AHEAD); the cell only on a drop. */
  let fetched = 0;
  function prefetchTies(people: number[], from: number, to: number): void {
    const lastByte = graph.alive.length - 1;
    let sum = 0;
    for (let a = from; a < to; a++) sum += graph.alive[Math.min(lastByte, slotStart(graph, people[a]) >>> 3)];
    fetched += sum; // kept, so that the reads are not optimised away
  }

  if (on) {
    sim.listeners.push((ch) => {
      if (!ch.entered || ch.list < 0 || !black[ch.list]) return;
      if (entryDay !== sim.day) { entryRng = sim.streams.shaming.at(sim.day, 1); entryDay = sim.day; }
      dropWithProbability(entryRng!, ch.agent, published[ch.list] ? sh.dropOnPublishedListing : sh.dropOnListing);
    });
  }

  return {
    name: "shaming",
    day(sim) {
      if (!on || sh.dropPerYearWhileListed <= 0) return;
      const rng = sim.streams.shaming.at(sim.day, 0);
      const p = sh.dropPerYearWhileListed / 365;
      const people = blacklisted.items;
      for (let a = 0; a < people.length; a++) {
        if (a % READ_AHEAD === 0) prefetchTies(people, a, Math.min(people.length, a + READ_AHEAD));
        dropWithProbability(rng, people[a], p);
      }
    },
  };
}
