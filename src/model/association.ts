// Association: a penalty charged to someone is charged again, in part, to their household and
// their friends (scoring.association), and, every so often, each score is pulled towards the mean
// score of the person's remaining friends. The charges a shard's penalties make go to whichever
// shard owns each contact, and are applied there in the order of the observations they came from.
import { BLOCK_SHIFT, shardOwners, type Shard } from "../engine/shards.js";
import { groupStarts } from "../engine/order.js";
import { QUANTUM, type MetricSet } from "../engine/counters.js";
import { DT, EV } from "../metrics/trail.js";
import { FAR, farRank, inTrailSample, isAlive, slotStart } from "./world.js";
import { changeErrorFree, changeScoreRecorded, clamp, markTouched, type Core, type Phase, type Sim } from "./context.js";
import { kernel, type ShardRunner } from "./kernels.js";
import type { ExpiryQueue } from "./expiry.js";
import { POINTS_METRICS, type ScoreTally } from "./points.js";
import { FINITE } from "../engine/checkpoint.js";
import { stateColumn } from "./state-columns.js";

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

export const ASSOCIATION_METRICS = {
  charges: { name: "association_charges", unit: "charges", description: "Penalties charged to someone for another person's act" },
  points: { name: "association_points", unit: "points", description: "Penalty points charged through association" },
} satisfies MetricSet;

export const ASSOCIATION_COLUMNS = {
  /** Points charged for other people's acts (association) still on the record. */
  assocPoints: stateColumn(Float32Array, { valid: () => FINITE }),
};

/** Whether a scenario charges association at all. */
export const associationOn = (s: Sim["s"]): boolean => s.mechanisms.association && s.scoring.association.enabled;

/** The association charges of one shard: made by its penalties (associate), applied to its citizens (charges). */
export class Association {
  private readonly owner: ReturnType<typeof shardOwners>;
  private readonly noCharges: ChargeColumns = { target: new Int32Array(0), source: new Int32Array(0), amount: new Float64Array(0), info: new Int32Array(0) };
  // Kept from day to day (emptied, not reallocated): a day's charges are applied the same day.
  private readonly outbox: ChargeBuffer[];
  private readonly householdShare: number;
  private readonly friendShare: number;
  // The day's charges received, every sender's batch in shard order, copied grouped by neighbourhood.
  private readonly grouped = new ChargeBuffer();
  // The charges to sampled citizens (which, score after, points applied), recorded in the trail
  // after the loop: with the trail's code inside it the loop took 10% longer (measured by day, in
  // alternation, three rounds); grown before the loop, so that nothing in it allocates.
  private sampledAt = new Int32Array(0);
  private sampledScore = new Float64Array(0);
  private sampledPoints = new Float64Array(0);
  private readonly groupStart: Uint32Array;

  constructor(private readonly core: Core, private readonly shard: Shard, shards: Shard[], private readonly tally: ScoreTally, private readonly expiry: ExpiryQueue) {
    this.owner = shardOwners(shards);
    this.outbox = Array.from({ length: shards.length }, () => new ChargeBuffer());
    ({ householdShare: this.householdShare, friendShare: this.friendShare } = core.s.scoring.association);
    this.groupStart = new Uint32Array(((shard.hi - shard.lo) >>> GROUP_SHIFT) + 2);
  }

  /** Start the day's charges afresh. */
  clear(): void {
    for (const box of this.outbox) box.length = 0;
  }

  /** Charges for t's penalty to their household and friends; t's ties start at slot `first`. */
  associate(t: number, first: number, applied: number, info: number): void {
    const { householdOffset } = this.core.c, graph = this.core.g, n = this.core.n;
    const outbox = this.outbox, owner = this.owner, shift = BLOCK_SHIFT;
    const h = t - householdOffset[t];
    if (this.householdShare > 0) {
      const amount = applied * this.householdShare;
      for (let j = h; j < n && j - householdOffset[j] === h; j++) if (j !== t) outbox[owner[j >>> shift]].push(j, t, amount, info);
    }
    if (this.friendShare > 0) {
      const amount = applied * this.friendShare, friendInfo = info | 2;
      const { near, far } = graph;
      const end = slotStart(graph, t + 1);
      for (let e = first, r = farRank(graph, e); e < end; e++) {
        const d = near[e];
        const j = d !== FAR ? t + d : far[r++];
        if (isAlive(graph, e)) outbox[owner[j >>> shift]].push(j, t, amount, friendInfo);
      }
    }
  }

  /** The day's charges by the shard that owns the person charged; those to the shard's own citizens (most: most ties are near) stay here until charges(). */
  sent(): ChargeColumns[] {
    return this.outbox.map((box, k) => (k === this.shard.index ? this.noCharges : box.columns()));
  }

  /**
   * The association charges made to this shard's citizens, from each shard in shard order (its
   * own, kept since the points, in its place), applied grouped by neighbourhoods of 16 citizens.
   * The grouping is stable, so each citizen's charges keep their order, which is all a score
   * depends on. In the order they were made (the friends of each penalised person in turn, a
   * window sliding slowly up the ids) the same updates cost about twice as much (measured: 58 ns
   * a charge against 25). The charges are copied into their grouped places (a counting sort),
   * so that the loop that applies them reads them in sequence.
   */
  charges(inbox: ChargeColumns[]): void {
    const boxes = inbox.map((box, from) => (from === this.shard.index ? this.outbox[from].columns() : box));
    const n = groupStarts(boxes.map((box) => box.target), this.shard.lo, GROUP_SHIFT, this.groupStart);
    this.grouped.reserve(n);
    for (const box of boxes) this.place(box);
    if (this.sampledAt.length < n) {
      this.sampledAt = new Int32Array(n);
      this.sampledScore = new Float64Array(n);
      this.sampledPoints = new Float64Array(n);
    }
    this.recordSampled(this.applyCharges(n));
  }

  // Each hot loop a function of its own, with nothing after it (see applyPoints in points.ts).
  /** A batch's charges copied to their grouped places. */
  private place(box: ChargeColumns): void {
    const { target, source, amount, info } = this.grouped;
    const base = this.shard.lo, groupStart = this.groupStart;
    for (let k = 0; k < box.target.length; k++) {
      const m = groupStart[(box.target[k] - base) >>> GROUP_SHIFT]++;
      target[m] = box.target[k];
      source[m] = box.source[k];
      amount[m] = box.amount[k];
      info[m] = box.info[k];
    }
  }

  /** The n grouped charges applied; returns how many of them went to sampled citizens. */
  private applyCharges(n: number): number {
    const core = this.core, expiry = this.expiry;
    const { score, errorFree, assocPoints, cell } = core.c;
    const { key, cut } = core.sample;
    const lo = core.s.scoring.min, hi = core.s.scoring.max, Q = QUANTUM;
    const { target, amount, info: infos } = this.grouped;
    const chargesToday = this.tally.charges, scoreToday = this.tally.score, pointsToday = this.tally.associationPoints;
    const sampledAt = this.sampledAt, sampledScore = this.sampledScore, sampledPoints = this.sampledPoints;
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
      expiry.schedule(j, applied, appliedTrue, applied);
    }
    return sampled;
  }

  private recordSampled(sampled: number): void {
    const { target, source, info: infos } = this.grouped;
    for (let k = 0; k < sampled; k++) {
      const m = this.sampledAt[k], info = infos[m];
      this.core.trail.record(target[m], this.core.day, this.sampledScore[k], {
        event: EV.association, other: source[m], behaviour: info >> 8, channel: (info >> 4) & 15,
        detail: info & 2 ? DT.friend : DT.household, points: this.sampledPoints[k],
      });
    }
  }
}

const GROUP_SHIFT = 4;

/** Association charges to the shard's citizens, one batch per sending shard, in shard order (its own batch never left it: empty here). */
export const CHARGES = kernel<ChargeColumns[], undefined>("scoring", "charges");

/** The day's association charges, sent by the points phase's shards (`sent`), applied by the shards that own the people charged. */
export function associationPhase(sim: Sim, shards: ShardRunner, points: { sent(): ChargeColumns[][] }): Phase {
  return {
    name: "association",
    day(sim) {
      const sent = points.sent();
      shards.run(CHARGES, sim.day, (shard) => sent.map((outbox) => outbox[shard.index]));
    },
  };
}

/** Each score moves towards the mean score of the person's remaining friends (computed first, then applied), every `pullEveryDays`. */
export function pullPhase(sim: Sim): Phase {
  const { c: citizens, g: graph } = sim;
  const assoc = sim.s.scoring.association;
  const on = associationOn(sim.s) && assoc.pull > 0;
  const { scoreSum: SCORE_SUM } = sim.metrics.indexOf(POINTS_METRICS);
  const { points: ASSOC_POINTS } = sim.metrics.indexOf(ASSOCIATION_METRICS);
  return {
    name: "pull",
    day(sim) {
      if (!(on && sim.day > 0 && sim.day % assoc.pullEveryDays === 0)) return;
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
        if (applied < 0) sim.metrics.add(sim.day, citizens.cell[i], ASSOC_POINTS, -applied);
      }
      sim.allTouched = true;
    },
  };
}
