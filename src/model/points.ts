// Points: each observed act charges its points to whoever the system holds responsible, and
// beside the record, `errorFree` is the ground-truth score: what the record would be had every
// channel been right. It is charged for every act a channel saw, to whoever really did it: true
// observations to their target, misattributed ones to their real actor (REAL_ACTOR rows), and
// invented ones to nobody. Acts that no channel saw charge neither score. A penalty is also
// charged to the person's contacts (association.ts), and expires in time (expiry.ts).
import type { Shard } from "../engine/shards.js";
import { QUANTUM, type MetricSet } from "../engine/counters.js";
import { EV, TRUE, REAL_ACTOR } from "../metrics/trail.js";
import { inTrailSample, slotStart } from "./world.js";
import { Observations, READ_AHEAD, clamp, markTouched, type Core, type Counters, type ObsColumns, type Phase, type Sim } from "./context.js";
import { kernel, type ShardPartFactory, type ShardRunner } from "./kernels.js";
import { ASSOCIATION_METRICS, Association, associationOn, type ChargeColumns } from "./association.js";
import { ExpiryQueue, type ExpiryState } from "./expiry.js";
import { within } from "../engine/checkpoint.js";
import { stateColumn, type Rebuilt } from "./state-columns.js";
import type { ObservationPhase } from "./observation.js";

export const POINTS_METRICS = {
  scoreSum: { name: "score_sum", unit: "points", description: "Sum of scores (divide by population for the mean)", stock: true },
  penaltyPoints: { name: "penalty_points", unit: "points", description: "Penalty points charged for people's own (observed) acts" },
  rewardPoints: { name: "reward_points", unit: "points", description: "Points gained for observed rewarded acts" },
} satisfies MetricSet;

/** On the scenario's scale, whose ends Float32 rounds. */
const onScale = ({ s }: Rebuilt) => within(Math.fround(s.scoring.min), Math.fround(s.scoring.max));

export const POINTS_COLUMNS = {
  /** The score on the record. */
  score: stateColumn(Float32Array, { initial: ({ s }) => s.scoring.initial, valid: onScale }),
  /** The score the person would have if every channel were error-free (ground truth beside the record). */
  errorFree: stateColumn(Float32Array, { initial: ({ s }) => s.scoring.initial, valid: onScale }),
  /** 1 + the day of the last penalty, 0 if none (16 bits: runs are at most 36,500 days). */
  lastPenalty: stateColumn(Uint16Array, { valid: ({ nextDay }) => within(0, nextDay) }),
};

/**
 * A shard's score changes during a task, per cell, in quanta (exactly as ShardCounters would
 * round them), added to the counters once: points, charges and expiry update the scores in
 * tight loops, and association is the hottest score change (about ten charges per penalty).
 */
export class ScoreTally {
  readonly score: Float64Array;
  readonly penalty: Float64Array;
  readonly reward: Float64Array;
  readonly charges: Float64Array;
  readonly associationPoints: Float64Array;
  private readonly at: { score: number; penalty: number; reward: number; charges: number; associationPoints: number };

  constructor(cells: number, metrics: Counters) {
    [this.score, this.penalty, this.reward, this.charges, this.associationPoints] = Array.from({ length: 5 }, () => new Float64Array(cells));
    const points = metrics.indexOf(POINTS_METRICS), association = metrics.indexOf(ASSOCIATION_METRICS);
    this.at = { score: points.scoreSum, penalty: points.penaltyPoints, reward: points.rewardPoints, charges: association.charges, associationPoints: association.points };
  }

  flush(metrics: Counters, day: number): void {
    const at = this.at;
    for (let ce = 0; ce < this.score.length; ce++) {
      if (this.charges[ce]) metrics.add(day, ce, at.charges, this.charges[ce]);
      if (this.associationPoints[ce]) metrics.add(day, ce, at.associationPoints, this.associationPoints[ce] / QUANTUM);
      if (this.penalty[ce]) metrics.add(day, ce, at.penalty, this.penalty[ce] / QUANTUM);
      if (this.reward[ce]) metrics.add(day, ce, at.reward, this.reward[ce] / QUANTUM);
      if (this.score[ce]) metrics.addStock(ce, at.score, this.score[ce] / QUANTUM);
    }
    for (const tally of [this.charges, this.associationPoints, this.penalty, this.reward, this.score]) tally.fill(0);
  }
}

/**
 * The score changes of one shard's citizens, on any thread. A day has two steps: points for the
 * observations held against the shard's citizens (which also makes their association charges,
 * sent to whichever shard owns each contact), then the charges received, in the order of the
 * observations they came from. Each citizen's changes are thus applied in one order whatever
 * the number of shards. Expiry is kept by the shard that owns the citizen.
 */
function pointsKernel(core: Core, shard: Shard, shards: Shard[]) {
  const { s: scenario, c: citizens, g: graph, behaviours } = core;
  const scoring = scenario.scoring;
  const tally = new ScoreTally(core.cells, core.metrics);
  const expiry = new ExpiryQueue(core, tally);
  const association = new Association(core, shard, shards, tally, expiry);
  const withAssociation = associationOn(scenario);
  const { key, cut } = core.sample;
  const pointsOf = Float64Array.from(behaviours, (b) => b.points);
  // The day's observations held against the shard's citizens, in the order made, then sorted by
  // target: each citizen's in the same order whatever the number of shards. On shared memory,
  // and kept until the next day: the calling thread copies them from here for the lists phase.
  const held = new Observations();
  // A chunk of targets' first slots, and a sum of what the read-ahead touched (kept, so that its reads are not dropped).
  const slotOf = new Uint32Array(READ_AHEAD);
  let readAhead = 0;

  /**
   * Expiry due today, then points for the day's observations against this shard's citizens.
   *
   * Each hot loop here is a function of its own, with nothing after it. V8 compiles a long loop
   * while it runs (on-stack replacement) and keeps that code for the next call; code after the
   * loop has not run yet then, and reaching it threw the compiled code away, every day again:
   * the charges' loops ran unoptimised on most days in some runs (seen with --trace-deopt).
   */
  function points(made: ObsColumns[]): { held: ObsColumns; outbox: ChargeColumns[] } {
    expiry.expire();
    association.clear();
    held.clear();
    held.appendHeldIn(made, shard.lo, shard.hi);
    held.sortByTarget();
    applyPoints(held.columns());
    tally.flush(core.metrics, core.day);
    return { held: held.columns(), outbox: association.sent() };
  }

  function applyPoints(obs: ObsColumns): void {
    const day = core.day;
    const { score, errorFree, lastPenalty, cell } = citizens;
    const lo = scoring.min, hi = scoring.max, cap = scoring.eventCap, Q = QUANTUM;
    const scoreToday = tally.score, penaltyToday = tally.penalty, rewardToday = tally.reward;
    const { target, behaviour, channel, kind: kinds, actor: actors } = obs;
    const { householdOffset } = citizens, { near, alive, farBefore } = graph;
    for (let k = 0, chunk = 0, next = 0; k < target.length; k++) {
      if (k === next) {
        // Each penalty is a chain of dependent misses (the target's slots, then its ties, then
        // their households), too long for the processor to overlap one observation with the
        // next. Read the chunk's first links in a loop without branches, many misses in flight
        // at once; the loop then finds them in the cache (the points task took a third less:
        // 1 M citizens, 150 days, one thread, three runs in alternation).
        chunk = k;
        next = Math.min(target.length, k + READ_AHEAD);
        let sum = 0;
        for (let q = chunk; q < next; q++) {
          const t = target[q], e = slotStart(graph, t);
          slotOf[q - chunk] = e;
          sum += score[t] + errorFree[t] + lastPenalty[t] + cell[t] + householdOffset[t] + near[e] + alive[e >>> 3] + farBefore[e >>> 5];
        }
        readAhead += sum;
      }
      const t = target[k], b = behaviour[k];
      let pts = pointsOf[b];
      if (pts === 0) continue;
      if (cap > 0) pts = Math.max(-cap, Math.min(cap, pts));
      if (kinds[k] === REAL_ACTOR) { chargeRealActor(t, slotOf[k - chunk], pts, (b << 8) | (channel[k] << 4) | 5); continue; }
      // changeScore, with its counts kept per cell (in quanta, as the counters round them).
      const old = score[t];
      const v = old + pts;
      score[t] = clamp(v, lo, hi);
      const applied = score[t] - old;
      const ce = cell[t];
      const kind = kinds[k];
      if (applied !== 0) {
        scoreToday[ce] += Math.round(applied * Q);
        if (inTrailSample(key, cut, t)) {
          const actor = actors[k];
          core.trail.record(t, day, score[t], { event: EV.points, behaviour: b, channel: channel[k], kind, other: actor === t ? -1 : actor, points: applied });
        }
      }
      let appliedTrue = 0;
      if (kind === TRUE) {
        const errorFreeBefore = errorFree[t];
        const errorFreeUnclamped = errorFreeBefore + pts;
        errorFree[t] = clamp(errorFreeUnclamped, lo, hi);
        appliedTrue = errorFree[t] - errorFreeBefore;
      }
      if (applied !== 0 || appliedTrue !== 0) markTouched(core, t);
      expiry.schedule(t, applied, appliedTrue, 0);
      if (pts < 0) {
        lastPenalty[t] = day + 1;
        penaltyToday[ce] += Math.round(-applied * Q);
        if (withAssociation && applied !== 0) association.associate(t, slotOf[k - chunk], applied, (b << 8) | (channel[k] << 4) | (kind === TRUE ? 1 : 0));
      } else {
        rewardToday[ce] += Math.round(applied * Q);
      }
    }
  }

  /**
   * A misattributed act charged to the error-free score of the person who really did it, with
   * the association charges a correct observation would have made (to the error-free scores of
   * their household and friends only): the record is not touched.
   */
  function chargeRealActor(t: number, first: number, pts: number, info: number): void {
    const { errorFree } = citizens;
    const old = errorFree[t];
    errorFree[t] = clamp(old + pts, scoring.min, scoring.max);
    const appliedTrue = errorFree[t] - old;
    if (appliedTrue === 0) return;
    markTouched(core, t);
    expiry.schedule(t, 0, appliedTrue, 0);
    if (pts < 0 && withAssociation) association.associate(t, first, appliedTrue, info);
  }

  return {
    points,
    charges(inbox: ChargeColumns[]): void {
      association.charges(inbox);
      tally.flush(core.metrics, core.day);
    },
    expiry,
  };
}

/** The day's observations as made (every shard's, then the invented): the shard takes those held against its citizens. */
const POINTS = kernel<ObsColumns[], { held: ObsColumns; outbox: ChargeColumns[] }>("scoring", "points");

/** The per-shard part of scoring: points, then association charges (association.ts), with the shard's pending expiry. */
export const scoringShard: ShardPartFactory = (core, shard, shards) => {
  const scoring = pointsKernel(core, shard, shards);
  return {
    kernels: { points: (_day: number, made: ObsColumns[]) => scoring.points(made), charges: (_day: number, inbox: ChargeColumns[]) => scoring.charges(inbox) },
    save: () => scoring.expiry.save(),
    // Each citizen's entries keep their order, which is all the score updates depend on.
    restore: (saved, owns) => scoring.expiry.restore(saved as ExpiryState[], owns),
  };
};

export interface PointsPhase extends Phase {
  /** The association charges each shard's penalties made today, by the shard that owns the person charged. */
  sent(): ChargeColumns[][];
}

export function pointsPhase(sim: Sim, shards: ShardRunner, observation: Pick<ObservationPhase, "made">): PointsPhase {
  const metrics = sim.metrics;
  const { scoreSum: SCORE_SUM } = metrics.indexOf(POINTS_METRICS);
  let sent: ChargeColumns[][] = [];
  return {
    name: "points",
    sent: () => sent,
    day(sim) {
      const day = sim.day;
      if (day === 0) for (let cell = 0; cell < sim.cells; cell++) metrics.setStock(cell, SCORE_SUM, sim.cellPopulation[cell] * sim.s.scoring.initial);
      sim.touched.length = 0;
      sim.allTouched = false;
      // Each shard takes the observations held against its citizens and sorts them; the day's,
      // in target order, are then theirs in shard order (for the lists phase).
      const answers = shards.run(POINTS, day, observation.made());
      sim.obs.clear();
      for (const { out } of answers) sim.obs.append(out.held);
      sent = answers.map(({ out }) => out.outbox);
    },
  };
}
