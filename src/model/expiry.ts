// Points that do not last: each change a penalty or reward made is reversed after
// `scoring.expiryDays` (on both the record and the error-free score), and every score decays
// monthly towards the initial value.
import { type GrowableColumn, int32Column, float64Column } from "../engine/columns.js";
import { EV } from "../metrics/trail.js";
import { QUANTUM } from "../engine/counters.js";
import { inTrailSample } from "./world.js";
import { changeScoreRecorded, clamp, markTouched, type Core, type Phase, type Sim } from "./context.js";
import { POINTS_METRICS, type ScoreTally } from "./points.js";

const PERIODIC_DAYS = 30; // decay is applied monthly: cheap, and finer than any published rule

interface Expiring {
  agent: GrowableColumn<Int32Array>;
  amount: GrowableColumn<Float64Array>;
  errorFree: GrowableColumn<Float64Array>;
  assoc: GrowableColumn<Float64Array>;
}

/** Points waiting to expire, by due day, for checkpoints: plain columns, any shard's citizens. */
export type ExpiryState = [due: number, agent: Int32Array, amount: Float64Array, errorFree: Float64Array, assoc: Float64Array][];

const newExpiring = (): Expiring => ({ agent: int32Column(), amount: float64Column(), errorFree: float64Column(), assoc: float64Column() });

/** A shard's pending expiry: kept by the shard that owns the citizen, each citizen's entries in the order they were made. */
export class ExpiryQueue {
  private readonly expiring = new Map<number, Expiring>();
  private readonly on: boolean;
  private readonly expiryDays: number;
  // Everything scheduled on one day falls due on the same day: keep that day's bucket at hand.
  private dueDay = -1;
  private dueBucket: Expiring | undefined;

  constructor(private readonly core: Core, private readonly tally: ScoreTally) {
    this.expiryDays = core.s.scoring.expiryDays; // a timeline's change builds the part again
    this.on = this.expiryDays > 0;
  }

  /** Reverse, `expiryDays` from today, what was applied to i's record, error-free score and association points. */
  schedule(i: number, amount: number, errorFree: number, assocAmount: number): void {
    if (!this.on || (amount === 0 && errorFree === 0)) return;
    const due = this.core.day + this.expiryDays;
    if (due >= this.core.days) return;
    if (due !== this.dueDay) {
      this.dueDay = due;
      this.dueBucket = this.expiring.get(due);
      if (!this.dueBucket) this.expiring.set(due, (this.dueBucket = newExpiring()));
    }
    const e = this.dueBucket!;
    e.agent.push(i);
    e.amount.push(amount);
    e.errorFree.push(errorFree);
    e.assoc.push(assocAmount);
  }

  /** Points due to expire today, reversed on both the record and the error-free score. */
  expire(): void {
    const core = this.core;
    const e = this.expiring.get(core.day);
    if (!e) return;
    this.expiring.delete(core.day);
    reverse(core, e, this.tally.score);
  }

  save(): ExpiryState {
    return [...this.expiring].map(([due, e]) => [due, e.agent.view().slice(), e.amount.view().slice(), e.errorFree.view().slice(), e.assoc.view().slice()]);
  }

  /** Take, from the pending expiry of every shard, the entries of this shard's citizens. */
  restore(states: ExpiryState[], own: (i: number) => boolean): void {
    this.expiring.clear();
    this.dueDay = -1;
    for (const state of states) {
      for (const [due, agent, amount, errorFree, assoc] of state) {
        for (let k = 0; k < agent.length; k++) {
          if (!own(agent[k])) continue;
          let e = this.expiring.get(due);
          if (!e) this.expiring.set(due, (e = newExpiring()));
          e.agent.push(agent[k]);
          e.amount.push(amount[k]);
          e.errorFree.push(errorFree[k]);
          e.assoc.push(assoc[k]);
        }
      }
    }
  }
}

function reverse(core: Core, e: Expiring, scoreToday: Float64Array): void {
  const { score, errorFree, assocPoints, cell } = core.c;
  const { key, cut } = core.sample;
  const lo = core.s.scoring.min, hi = core.s.scoring.max;
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

/** Monthly decay of every score towards the initial value (and of the error-free score alike). */
export function decayPhase(sim: Sim): Phase {
  const { c: citizens } = sim;
  const scoring = sim.s.scoring;
  const { scoreSum: SCORE_SUM } = sim.metrics.indexOf(POINTS_METRICS);
  const monthlyShare = 1 - Math.pow(1 - scoring.decayPerYear, PERIODIC_DAYS / 365);
  return {
    name: "decay",
    day(sim) {
      if (!(scoring.decayPerYear > 0 && sim.day > 0 && sim.day % PERIODIC_DAYS === 0)) return;
      for (let i = 0; i < sim.n; i++) {
        const d = (scoring.initial - citizens.score[i]) * monthlyShare;
        if (d !== 0) changeScoreRecorded(sim, i, d, { event: EV.decay }, SCORE_SUM);
        citizens.errorFree[i] += (scoring.initial - citizens.errorFree[i]) * monthlyShare;
        citizens.assocPoints[i] *= 1 - monthlyShare;
      }
      sim.allTouched = true;
    },
  };
}
