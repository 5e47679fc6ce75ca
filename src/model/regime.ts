// The regime: the mechanisms of a scoring system, in the order a day runs them. Adding a
// mechanism is a file of its own and a line here: its phase in `dayPhases` (built with what
// it reads from the phases before it), its shard part in SHARD_PARTS if it has kernels, and
// its state columns in STATE_COLUMNS if it keeps some per citizen.
import type { Sim, Phase } from "./context.js";
import type { ShardPartFactory, ShardRunner } from "./kernels.js";
import type { MetricSet } from "../engine/counters.js";
import { allColumns } from "./state-columns.js";
import type { Scenario } from "../scenario/schema.js";
import { hasKindSums, isReported, listKindMetrics, listMetrics, LIST_DAILY_METRICS } from "../metrics/list-metrics.js";
import { LISTED_METRICS } from "../metrics/collect.js";
import { BEHAVIOUR_METRICS, behaviourPhase, behaviourShard } from "./behaviour.js";
import { WATCH_CELL_METRICS, WATCH_METRICS, watchPhase } from "./watch.js";
import { OBSERVATION_METRICS, observationPhase, observationShard } from "./observation.js";
import { POINTS_COLUMNS, POINTS_METRICS, pointsPhase, scoringShard } from "./points.js";
import { ASSOCIATION_COLUMNS, ASSOCIATION_METRICS, associationPhase, pullPhase } from "./association.js";
import { decayPhase } from "./expiry.js";
import { LISTS_COLUMNS, listsPhase } from "./lists.js";
import { APPEALS_METRICS, APPEALS_QUEUE, appealsPhase } from "./appeals.js";
import { CONSEQUENCES_COLUMNS, CONSEQUENCES_METRICS, SANCTION_EFFECT_METRICS, consequencesPhase } from "./consequences.js";
import { SHAMING_METRICS, shamingPhase } from "./shaming.js";
import { VISIBILITY_METRICS, visibilityPhase } from "./visibility.js";
import { firmsMetrics, firmsPhase } from "./firms.js";
import { collectPhase } from "../metrics/collect.js";
import { INFORMANT_METRICS, informantsPhase, rewardIncome } from "./informants.js";

/** The mechanisms whose hot loops run per shard of citizens (model/kernels.ts), by the part name their kernels use. */
export const SHARD_PARTS: Record<string, ShardPartFactory> = {
  behaviour: behaviourShard,
  observation: observationShard,
  scoring: scoringShard,
};

/**
 * Every mechanism's per-citizen state columns: population.ts allocates them (in this order) and
 * the Citizens type is made of them (world.ts). A name two mechanisms declare is refused.
 */
export const STATE_COLUMNS = allColumns(
  POINTS_COLUMNS,
  ASSOCIATION_COLUMNS,
  LISTS_COLUMNS,
  CONSEQUENCES_COLUMNS,
);

/**
 * Every mechanism's metrics, declared before any phase is built (a phase looks up those it
 * writes): this order is the order of the daily table's columns.
 */
export function declareMetrics(sim: Sim): void {
  for (const set of dailyMetricSets(sim.s)) sim.metrics.declare(set);
  for (const set of runWideMetricSets(sim.s)) sim.global.declare(set);
  sim.listDaily.declare(LIST_DAILY_METRICS);
}

/** The metrics kept per cell each day, in column order. */
export const dailyMetricSets = (s: Scenario): MetricSet[] => [
  ...(s.mechanisms.lists ? s.lists.filter(isReported).map((l) => listMetrics(l.id)) : []),
  ...(s.mechanisms.lists && hasKindSums(s.lists) ? [listKindMetrics("black"), listKindMetrics("red")] : []),
  APPEALS_METRICS, CONSEQUENCES_METRICS, LISTED_METRICS, BEHAVIOUR_METRICS, OBSERVATION_METRICS,
  POINTS_METRICS, ASSOCIATION_METRICS, SHAMING_METRICS, INFORMANT_METRICS, WATCH_CELL_METRICS, SANCTION_EFFECT_METRICS, VISIBILITY_METRICS,
];

/** The metrics kept once a day for the whole run. */
const runWideMetricSets = (s: Scenario): MetricSet[] => [WATCH_METRICS, APPEALS_QUEUE, firmsMetrics(s)];

/** The day's phases in order, built over `sim`, with the handles simulate() reads its results from. */
export function dayPhases(sim: Sim, shards: ShardRunner) {
  // Built in this order, which sets the order of the listeners to listings (appeals,
  // consequences, collect, shaming).
  const watch = watchPhase(sim);
  const lists = listsPhase(sim);
  const appeals = appealsPhase(sim, lists.lists);
  const rewards = rewardIncome(sim);
  const consequences = consequencesPhase(sim, lists.lists, rewards.of);
  const firms = firmsPhase(sim, lists.lists);
  const collect = collectPhase(sim, consequences);
  const behaviour = behaviourPhase(sim, shards);
  const observation = observationPhase(sim, watch, shards);
  const informants = informantsPhase(sim, rewards, observation, (i) => {
    consequences.setIncome(i);
    collect.incomeChanged(i);
  });
  const points = pointsPhase(sim, shards, observation);
  const association = associationPhase(sim, shards, points);
  const decay = decayPhase(sim);
  const pull = pullPhase(sim);
  const shaming = shamingPhase(sim, consequences.blacklisted, collect.tieDropped);
  const visibility = visibilityPhase(sim, collect.tieDropped);
  const phases: Phase[] = [
    watch, behaviour, observation, informants, points, association,
    // Association is the day's last use of the workers: they draw tomorrow's behaviour while
    // this thread runs the phases over everyone and over the listed.
    behaviour.drawAhead,
    decay, pull,
    lists, appeals, consequences, shaming, visibility, firms, collect,
  ];
  return { phases, lists, appeals, firms, collect };
}
