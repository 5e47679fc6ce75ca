// The regime: the mechanisms of a scoring system, in the order a day runs them. Adding a
// mechanism is a file of its own and a line here: its phase in `dayPhases` (built with what
// it reads from the phases before it), and its shard part in SHARD_PARTS if it has kernels.
import type { Sim, Phase } from "./context.js";
import type { ShardPartFactory, ShardRunner } from "./kernels.js";
import { behaviourPhase, behaviourShard } from "./behaviour.js";
import { watchPhase } from "./watch.js";
import { observationPhase, observationShard } from "./observation.js";
import { pointsPhase, scoringShard } from "./points.js";
import { associationPhase, pullPhase } from "./association.js";
import { decayPhase } from "./expiry.js";
import { listsPhase } from "./lists.js";
import { appealsPhase } from "./appeals.js";
import { consequencesPhase } from "./consequences.js";
import { shamingPhase } from "./shaming.js";
import { firmsPhase } from "./firms.js";
import { collectPhase } from "./collect.js";

/** The mechanisms whose hot loops run per shard of citizens (model/kernels.ts), by the part name their kernels use. */
export const SHARD_PARTS: Record<string, ShardPartFactory> = {
  behaviour: behaviourShard,
  observation: observationShard,
  scoring: scoringShard,
};

/** The day's phases in order, built over `sim`, with the handles simulate() reads its results from. */
export function dayPhases(sim: Sim, shards: ShardRunner) {
  // Built in this order, which sets the order of the metric columns and of the listeners to
  // listings (appeals, consequences, collect, shaming).
  const watch = watchPhase(sim);
  const lists = listsPhase(sim);
  const appeals = appealsPhase(sim, lists.lists);
  const consequences = consequencesPhase(sim);
  const firms = firmsPhase(sim, lists.lists);
  const collect = collectPhase(sim, consequences);
  const behaviour = behaviourPhase(sim, shards);
  const observation = observationPhase(sim, watch, shards);
  const points = pointsPhase(sim, shards, observation);
  const association = associationPhase(sim, shards, points);
  const decay = decayPhase(sim);
  const pull = pullPhase(sim);
  const shaming = shamingPhase(sim, consequences.blacklisted, collect.tieDropped);
  const phases: Phase[] = [
    watch, behaviour, observation, points, association,
    // Association is the day's last use of the workers: they draw tomorrow's behaviour while
    // this thread runs the phases over everyone and over the listed.
    behaviour.drawAhead,
    decay, pull,
    lists, appeals, consequences, shaming, firms, collect,
  ];
  return { phases, lists, appeals, firms, collect };
}
