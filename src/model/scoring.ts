// Scoring: points per observed act to whoever the system holds responsible, association charges
// to their household and friends, expiry, decay and the pull towards contacts' scores.
// Beside the record, `errorFree` is the ground-truth score: what the record would be had every
// channel been right. It is charged for every act a channel saw, to whoever really did it: true
// observations to their target, misattributed ones to their real actor (REAL_ACTOR rows), and
// invented ones to nobody. Acts that no channel saw charge neither score.
import { type GrowableColumn, int32Column, float64Column } from "../engine/columns.js";
import { EV, TRUE, DT, REAL_ACTOR } from "../metrics/trail.js";
import { QUANTUM } from "../engine/counters.js";
import { BLOCK_SHIFT, shardOwners, type Shard } from "../engine/shards.js";
import { groupStarts } from "../engine/order.js";
import { FAR, farRank, inTrailSample, isAlive, slotStart } from "./world.js";
import { Observations, READ_AHEAD, changeErrorFree, changeScoreRecorded, clamp, markTouched, type Core, type ObsColumns, type Phase, type Sim } from "./context.js";
import { kernel, type ShardPartFactory, type ShardRunner } from "./kernels.js";
import type { ObservationPhase } from "./observation.js";

const PERIODIC_DAYS = 30; // decay is applied monthly: cheap, and finer than any published rule

interface Expiring {
  agent: GrowableColumn<Int32Array>;
  amount: GrowableColumn<Float64Array>;
  errorFree: GrowableColumn<Float64Array>;
  assoc: GrowableColumn<Float64Array>;
}

/** Points waiting to expire, by due day, for checkpoints: plain columns, any shard's citizens. */
export type ExpiryState = [due: number, agent: Int32Array, amount: Float64Array, errorFree: Float64Array, assoc: Float64Array][];

/** Association charges from one shard's penalties to one shard's citizens, in the order they were made. */
export interface ChargeColumns {
  target: Int32Array;
  /** Whose penalty it was. */
  source: Int32Array;
  amount: Float64Array;
  /** Packed: behaviour << 8 | channel << 4 | error-free score only << 2 | friend (else household) << 1 | true observation. */
  info: Int32Array;
}

/** A growable batch of charges: one capacity check per charge (this is pushed ~70,000 times a day per million). */
class ChargeBuffer {
  length = 0;
  target = new Int32Array(1024);
  source = new Int32Array(1024);
  amount = new Float64Array(1024);
  info = new Int32Array(1024);
  push(j: number, source: number, amount: number, info: number): void {
    if (this.length === this.target.length) this.grow();
    const k = this.length++;
    this.target[k] = j;
    this.source[k] = source;
    this.amount[k] = amount;
    this.info[k] = info;
  }
  /** Room for n charges, written by index (the grouped copy in charges()). */
  reserve(n: number): void {
    while (this.target.length < n) this.grow();
  }
  private grow(): void {
    const grown = <T extends Int32Array | Float64Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(a.length * 2);
      b.set(a);
      return b;
    };
    this.target = grown(this.target);
    this.source = grown(this.source);
    this.amount = grown(this.amount);
    this.info = grown(this.info);
  }
  columns(): ChargeColumns {
    const n = this.length;
    return { target: this.target.subarray(0, n), source: this.source.subarray(0, n), amount: this.amount.subarray(0, n), info: this.info.subarray(0, n) };
  }
}

/**
 * The score changes of one shard's citizens, on any thread. A day has two steps: points for the
 * observations held against the shard's citizens (which also makes their association charges,
 * sent to whichever shard owns each contact), then the charges received, in the order of the
 * observations they came from. Each citizen's changes are thus applied in one order whatever
 * the number of shards. Expiry is kept by the shard that owns the citizen.
 */
function scoringKernel(core: Core, shard: Shard, shards: Shard[]) {
  const owner = shardOwners(shards);
  const shardCount = shards.length;
  const { s: scenario, c: citizens, g: graph, behaviours } = core;
  const scoring = scenario.scoring;
  const metrics = core.metrics;
  const SCORE_SUM = metrics.find("score_sum")!;
  const PENALTY = metrics.find("penalty_points")!;
  const REWARD = metrics.find("reward_points")!;
  const ASSOC_CHARGES = metrics.find("association_charges")!;
  const ASSOC_POINTS = metrics.find("association_points")!;
  const assoc = scoring.association;
  const associationOn = scenario.mechanisms.association && assoc.enabled;
  const { key, cut } = core.sample;
  const expiring = new Map<number, Expiring>();
  const expiryOn = scoring.expiryDays > 0;

  const newExpiring = (): Expiring => ({ agent: int32Column(), amount: float64Column(), errorFree: float64Column(), assoc: float64Column() });
  // Everything scheduled on one day falls due on the same day: keep that day's bucket at hand.
  let dueDay = -1;
  let dueBucket: Expiring | undefined;

  function scheduleExpiry(i: number, amount: number, errorFree: number, assocAmount: number): void {
    if (!expiryOn || (amount === 0 && errorFree === 0)) return;
    const due = core.day + scoring.expiryDays;
    if (due >= core.days) return;
    if (due !== dueDay) {
      dueDay = due;
      dueBucket = expiring.get(due);
      if (!dueBucket) expiring.set(due, (dueBucket = newExpiring()));
    }
    const e = dueBucket!;
    e.agent.push(i);
    e.amount.push(amount);
    e.errorFree.push(errorFree);
    e.assoc.push(assocAmount);
  }

  // Association is the hottest score change (about ten charges per penalty, each expiring later):
  // points, charges and expiry update the scores in tight loops, with counts kept in per-cell
  // accumulators (in quanta, exactly as ShardCounters would round them) and added once a day.
  const chargesToday = new Float64Array(core.cells);
  const pointsToday = new Float64Array(core.cells);
  const scoreToday = new Float64Array(core.cells);
  const penaltyToday = new Float64Array(core.cells);
  const rewardToday = new Float64Array(core.cells);

  function flushCounts(): void {
    for (let ce = 0; ce < core.cells; ce++) {
      if (chargesToday[ce]) metrics.add(core.day, ce, ASSOC_CHARGES, chargesToday[ce]);
      if (pointsToday[ce]) metrics.add(core.day, ce, ASSOC_POINTS, pointsToday[ce] / QUANTUM);
      if (penaltyToday[ce]) metrics.add(core.day, ce, PENALTY, penaltyToday[ce] / QUANTUM);
      if (rewardToday[ce]) metrics.add(core.day, ce, REWARD, rewardToday[ce] / QUANTUM);
      if (scoreToday[ce]) metrics.addStock(ce, SCORE_SUM, scoreToday[ce] / QUANTUM);
    }
    for (const tally of [chargesToday, pointsToday, penaltyToday, rewardToday, scoreToday]) tally.fill(0);
  }

  /** Points due to expire today, reversed on both the record and the error-free score. */
  function expire(): void {
    const e = expiring.get(core.day);
    if (!e) return;
    expiring.delete(core.day);
    reverse(e);
    flushCounts();
  }

  function reverse(e: Expiring): void {
    const { score, errorFree, assocPoints, cell } = citizens;
    const lo = scoring.min, hi = scoring.max;
    const agents = e.agent.data, amounts = e.amount.data, trues = e.errorFree.data, assocs = e.assoc.data;
    for (let k = 0; k < e.agent.length; k++) {
      const i = agents[k];
      const old = score[i];
      const v = old - amounts[k];
      score[i] = clamp(v, lo, hi);
      const applied = score[i] - old;
      if (applied !== 0) {
        scoreToday[cell[i]] += Math.round(applied * QUANTUM);
        if (inTrailSample(key, cut, i)) core.trail.record(i, core.day, score[i], { event: EV.expiry, points: applied });
      }
      const errorFreeUnclamped = errorFree[i] - trues[k];
      errorFree[i] = clamp(errorFreeUnclamped, lo, hi);
      assocPoints[i] -= assocs[k];
      // Once both scores have moved: either may have crossed a list's line.
      if (applied !== 0 || trues[k] !== 0) markTouched(core, i);
    }
  }

  const noCharges: ChargeColumns = { target: new Int32Array(0), source: new Int32Array(0), amount: new Float64Array(0), info: new Int32Array(0) };
  // Kept from day to day (emptied, not reallocated): a day's charges are applied the same day.
  const outbox = Array.from({ length: shardCount }, () => new ChargeBuffer());
  const { householdShare, friendShare } = assoc;
  const shift = BLOCK_SHIFT;

  /** Charges for t's penalty to their household and friends; t's ties start at slot `first`. */
  function associate(t: number, first: number, applied: number, info: number): void {
    const { householdOffset } = citizens;
    const h = t - householdOffset[t];
    if (householdShare > 0) {
      const amount = applied * householdShare;
      for (let j = h; j < core.n && j - householdOffset[j] === h; j++) if (j !== t) outbox[owner[j >>> shift]].push(j, t, amount, info);
    }
    if (friendShare > 0) {
      const amount = applied * friendShare, friendInfo = info | 2;
      const { near, far } = graph;
      const end = slotStart(graph, t + 1);
      for (let e = first, r = farRank(graph, e); e < end; e++) {
        const d = near[e];
        const j = d !== FAR ? t + d : far[r++];
        if (isAlive(graph, e)) outbox[owner[j >>> shift]].push(j, t, amount, friendInfo);
      }
    }
  }

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
    expire();
    for (const box of outbox) box.length = 0;
    held.clear();
    held.appendHeldIn(made, shard.lo, shard.hi);
    held.sortByTarget();
    applyPoints(held.columns());
    flushCounts();
    // Charges to the shard's own citizens (most of them: most ties are near) stay here until charges().
    return { held: held.columns(), outbox: outbox.map((box, k) => (k === shard.index ? noCharges : box.columns())) };
  }

  function applyPoints(obs: ObsColumns): void {
    const day = core.day;
    const { score, errorFree, lastPenalty, cell } = citizens;
    const lo = scoring.min, hi = scoring.max, cap = scoring.eventCap, Q = QUANTUM;
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
      scheduleExpiry(t, applied, appliedTrue, 0);
      if (pts < 0) {
        lastPenalty[t] = day + 1;
        penaltyToday[ce] += Math.round(-applied * Q);
        if (associationOn && applied !== 0) associate(t, slotOf[k - chunk], applied, (b << 8) | (channel[k] << 4) | (kind === TRUE ? 1 : 0));
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
    scheduleExpiry(t, 0, appliedTrue, 0);
    if (pts < 0 && associationOn) associate(t, first, appliedTrue, info);
  }

  // The day's charges received, every sender's batch in shard order, copied grouped by neighbourhood.
  const grouped = new ChargeBuffer();
  // The charges to sampled citizens (which, score after, points applied), recorded in the trail
  // after the loop: with the trail's code inside it the loop took 10% longer (measured by day, in
  // alternation, three rounds); grown before the loop, so that nothing in it allocates.
  let sampledAt = new Int32Array(0), sampledScore = new Float64Array(0), sampledPoints = new Float64Array(0);
  const GROUP_SHIFT = 4;
  const groupStart = new Uint32Array(((shard.hi - shard.lo) >>> GROUP_SHIFT) + 2);

  /**
   * The association charges made to this shard's citizens, from each shard in shard order (its
   * own, kept since points(), in its place), applied grouped by neighbourhoods of 16 citizens.
   * The grouping is stable, so each citizen's charges keep their order, which is all a score
   * depends on. In the order they were made (the friends of each penalised person in turn, a
   * window sliding slowly up the ids) the same updates cost about twice as much (measured: 58 ns
   * a charge against 25). The charges are copied into their grouped places (a counting sort),
   * so that the loop that applies them reads them in sequence.
   */
  function charges(inbox: ChargeColumns[]): void {
    const boxes = inbox.map((box, from) => (from === shard.index ? outbox[from].columns() : box));
    const n = groupStarts(boxes.map((box) => box.target), shard.lo, GROUP_SHIFT, groupStart);
    grouped.reserve(n);
    for (const box of boxes) place(box);
    if (sampledAt.length < n) {
      sampledAt = new Int32Array(n);
      sampledScore = new Float64Array(n);
      sampledPoints = new Float64Array(n);
    }
    recordSampled(applyCharges(n));
    flushCounts();
  }

  /** A batch's charges copied to their grouped places. */
  function place(box: ChargeColumns): void {
    const { target, source, amount, info } = grouped;
    const base = shard.lo;
    for (let k = 0; k < box.target.length; k++) {
      const m = groupStart[(box.target[k] - base) >>> GROUP_SHIFT]++;
      target[m] = box.target[k];
      source[m] = box.source[k];
      amount[m] = box.amount[k];
      info[m] = box.info[k];
    }
  }

  /** The n grouped charges applied; returns how many of them went to sampled citizens. */
  function applyCharges(n: number): number {
    const { score, errorFree, assocPoints, cell } = citizens;
    const lo = scoring.min, hi = scoring.max, Q = QUANTUM;
    const { target, amount, info: infos } = grouped;
    let sampled = 0;
    for (let m = 0; m < n; m++) {
      const j = target[m], points = amount[m], info = infos[m];
      let applied = 0;
      // Bit 2: a charge for an act misattributed to someone else, the ground truth's alone.
      if (!(info & 4)) {
        const old = score[j];
        const v = old + points;
        score[j] = clamp(v, lo, hi);
        applied = score[j] - old;
        const ce = cell[j];
        chargesToday[ce]++;
        if (applied !== 0) {
          const q = Math.round(applied * Q);
          scoreToday[ce] += q;
          pointsToday[ce] -= q;
          assocPoints[j] += applied;
          if (inTrailSample(key, cut, j)) {
            sampledAt[sampled] = m;
            sampledScore[sampled] = score[j];
            sampledPoints[sampled++] = applied;
          }
        }
      }
      let appliedTrue = 0;
      if (info & 1) {
        const errorFreeBefore = errorFree[j];
        const errorFreeUnclamped = errorFreeBefore + points;
        errorFree[j] = clamp(errorFreeUnclamped, lo, hi);
        appliedTrue = errorFree[j] - errorFreeBefore;
      }
      if (applied !== 0 || appliedTrue !== 0) markTouched(core, j);
      // Expiry reverses what was applied on each side, so clamping at the floor never leaves a residue.
      scheduleExpiry(j, applied, appliedTrue, applied);
    }
    return sampled;
  }

  function recordSampled(sampled: number): void {
    const { target, source, info: infos } = grouped;
    for (let k = 0; k < sampled; k++) {
      const m = sampledAt[k], info = infos[m];
      core.trail.record(target[m], core.day, sampledScore[k], {
        event: EV.association, other: source[m], behaviour: info >> 8, channel: (info >> 4) & 15,
        detail: info & 2 ? DT.friend : DT.household, points: sampledPoints[k],
      });
    }
  }

  /** The shard's pending expiry (each citizen's entries in the order they were made). */
  function saveExpiry(): ExpiryState {
    return [...expiring].map(([due, e]) => [due, e.agent.view().slice(), e.amount.view().slice(), e.errorFree.view().slice(), e.assoc.view().slice()]);
  }

  /** Take, from the pending expiry of every shard, the entries of this shard's citizens. */
  function restoreExpiry(states: ExpiryState[], own: (i: number) => boolean): void {
    expiring.clear();
    dueDay = -1;
    for (const state of states) {
      for (const [due, agent, amount, errorFree, assoc] of state) {
        for (let k = 0; k < agent.length; k++) {
          if (!own(agent[k])) continue;
          let e = expiring.get(due);
          if (!e) expiring.set(due, (e = newExpiring()));
          e.agent.push(agent[k]);
          e.amount.push(amount[k]);
          e.errorFree.push(errorFree[k]);
          e.assoc.push(assoc[k]);
        }
      }
    }
  }

  return { points, charges, saveExpiry, restoreExpiry };
}

/** The day's observations as made (every shard's, then the invented): the shard takes those held against its citizens. */
const POINTS = kernel<ObsColumns[], { held: ObsColumns; outbox: ChargeColumns[] }>("scoring", "points");
/** Association charges to the shard's citizens, one batch per sending shard, in shard order (its own batch never left it: empty here). */
const CHARGES = kernel<ChargeColumns[], undefined>("scoring", "charges");

export const scoringShard: ShardPartFactory = (core, shard, shards) => {
  const scoring = scoringKernel(core, shard, shards);
  return {
    kernels: { points: (_day: number, made: ObsColumns[]) => scoring.points(made), charges: (_day: number, inbox: ChargeColumns[]) => scoring.charges(inbox) },
    save: () => scoring.saveExpiry(),
    // Each citizen's entries keep their order, which is all the score updates depend on.
    restore: (saved, owns) => scoring.restoreExpiry(saved as ExpiryState[], owns),
  };
};

export function scoringPhase(sim: Sim, shards: ShardRunner, observation: Pick<ObservationPhase, "made">): Phase {
  const { s: scenario, c: citizens, g: graph } = sim;
  const scoring = scenario.scoring;
  const metrics = sim.metrics;
  const SCORE_SUM = metrics.declare("score_sum", "Sum of scores (divide by population for the mean)", true);
  metrics.declare("penalty_points", "Penalty points charged for people's own (observed) acts");
  metrics.declare("reward_points", "Points gained for observed rewarded acts");
  metrics.declare("association_charges", "Penalties charged to someone for another person's act");
  const ASSOC_POINTS = metrics.declare("association_points", "Penalty points charged through association");
  const assoc = scoring.association;
  const associationOn = scenario.mechanisms.association && assoc.enabled;

  /** Monthly decay of every score towards the initial value (and of the error-free score alike). */
  function decay(): void {
    const monthlyShare = 1 - Math.pow(1 - scoring.decayPerYear, PERIODIC_DAYS / 365);
    for (let i = 0; i < sim.n; i++) {
      const d = (scoring.initial - citizens.score[i]) * monthlyShare;
      if (d !== 0) changeScoreRecorded(sim, i, d, { event: EV.decay }, SCORE_SUM);
      citizens.errorFree[i] += (scoring.initial - citizens.errorFree[i]) * monthlyShare;
      citizens.assocPoints[i] *= 1 - monthlyShare;
    }
    sim.allTouched = true;
  }

  /** Each score moves towards the mean score of the person's remaining friends (computed first, then applied). */
  function pull(): void {
    const delta = new Float32Array(sim.n);
    const deltaTrue = new Float32Array(sim.n);
    for (let i = 0; i < sim.n; i++) {
      let sum = 0, sumTrue = 0, k = 0;
      const end = slotStart(graph, i + 1);
      for (let e = slotStart(graph, i), r = farRank(graph, e); e < end; e++) {
        const d = graph.near[e];
        const j = d !== FAR ? i + d : graph.far[r++];
        if (!isAlive(graph, e)) continue;
        sum += citizens.score[j];
        sumTrue += citizens.errorFree[j];
        k++;
      }
      if (k === 0) continue;
      delta[i] = assoc.pull * (sum / k - citizens.score[i]);
      deltaTrue[i] = assoc.pull * (sumTrue / k - citizens.errorFree[i]);
    }
    for (let i = 0; i < sim.n; i++) {
      if (delta[i] === 0) continue;
      const applied = changeScoreRecorded(sim, i, delta[i], { event: EV.pull }, SCORE_SUM);
      citizens.assocPoints[i] += applied;
      changeErrorFree(sim, i, deltaTrue[i]);
      if (applied < 0) metrics.add(sim.day, citizens.cell[i], ASSOC_POINTS, -applied);
    }
    sim.allTouched = true;
  }

  return {
    name: "scoring",
    day(sim) {
      const day = sim.day;
      if (day === 0) for (let cell = 0; cell < sim.cells; cell++) metrics.setStock(cell, SCORE_SUM, sim.cellPopulation[cell] * scoring.initial);
      sim.touched.length = 0;
      sim.allTouched = false;
      // Each shard takes the observations held against its citizens and sorts them; the day's,
      // in target order, are then theirs in shard order (for the lists phase).
      const sent = shards.run(POINTS, day, observation.made());
      sim.obs.clear();
      for (const { out } of sent) sim.obs.append(out.held);
      shards.run(CHARGES, day, (shard) => sent.map(({ out }) => out.outbox[shard.index]));
      if (scoring.decayPerYear > 0 && day > 0 && day % PERIODIC_DAYS === 0) decay();
      if (associationOn && assoc.pull > 0 && day > 0 && day % assoc.pullEveryDays === 0) pull();
    },
  };
}
