// Informants' economics: how many inform and how often at a given reward, and the rewards paid
// into the informants' income (where they lower the income stress on financial acts and raise
// what people attempt, as any income does: model/consequences.ts). The reports themselves are
// made by the observation channels (model/observation.ts, model/invented.ts).
import type { MetricSet } from "../engine/counters.js";
import { lowerBound } from "../engine/order.js";
import type { Scenario } from "../scenario/schema.js";
import { INFORMANT } from "./world.js";
import type { Phase, Sim } from "./context.js";
import type { ObservationPhase } from "./observation.js";

type Informants = Scenario["observation"]["informants"];

export const INFORMANT_METRICS = {
  informants: { name: "informants", unit: "people", description: "Informants (recruited on day 0, by the reward then)", stock: true },
  reportsTrue: { name: "informant_reports_true", unit: "reports", description: "True reports filed by informants (by the informant's cell)" },
  reportsPaid: { name: "informant_reports_paid", unit: "reports", description: "Reports paid a reward, true and false (by the informant's cell)" },
} satisfies MetricSet;

/**
 * The factor a reward multiplies informing by: ((r + ref) / (2 ref))^e. 1 at the reference
 * reward; unpaid, 2^-e (people also inform from conviction, fear or duty, which no reward
 * buys); far above the reference, a constant elasticity e. Exactly 1 with e = 0.
 */
export function rewardResponse(informants: Informants, elasticity = informants.rewardElasticity): number {
  if (elasticity === 0) return 1;
  return ((informants.rewardPerReport + informants.referenceReward) / (2 * informants.referenceReward)) ** elasticity;
}

/** Share of citizens recruited as informants under scenario s (drawn on day 0: population.ts). */
export const recruitedShare = (s: Scenario): number => Math.min(1, s.observation.informants.share * rewardResponse(s.observation.informants));

/** Probability an informant reports a contact's act they witness, at the day's reward. */
export const reportProbability = (s: Scenario): number => Math.min(1, s.observation.informants.reportProbability * rewardResponse(s.observation.informants));

/** False reports per informant-year, at the day's reward. */
export function falseReportsPerYear(s: Scenario): number {
  const informants = s.observation.informants;
  return informants.falseReportsPerYear * rewardResponse(informants, informants.falseReportElasticity ?? informants.rewardElasticity);
}

/**
 * Each informant's reward income (income units a day), sparse: only informants can have one, so
 * it is kept per informant (in id order, found by binary search) and not per citizen.
 */
export interface RewardIncome {
  /** Reward income of citizen i (0 for anyone who is not an informant). */
  of(i: number): number;
  ids: Int32Array;
  amount: Float64Array;
}

export function rewardIncome(sim: Sim): RewardIncome {
  const { flags } = sim.c;
  const list: number[] = [];
  for (let i = 0; i < sim.n; i++) if (flags[i] & INFORMANT) list.push(i);
  const ids = Int32Array.from(list);
  const amount = new Float64Array(ids.length);
  return {
    ids, amount,
    of: (i) => (flags[i] & INFORMANT ? amount[lowerBound(ids, ids.length, i)] : 0),
  };
}

/** Below this a reward income is spent (so that a paid informant is not updated for ever). */
const SPENT = 1e-3;

/**
 * Paying the day's rewards: each paid report adds reward/days to its informant's income, which
 * decays by e^(-1/days) a day, so that what a reward adds to income over time sums to it. On the
 * calling thread, in the order the reports were made (shard order, then the invented): the
 * same on any number of threads. `incomeChanged(i)` sets i's income from what they now hold.
 */
export function informantsPhase(sim: Sim, rewards: RewardIncome, observation: ObservationPhase, incomeChanged: (i: number) => void): Phase {
  const { ids, amount } = rewards;
  const { informants: INFORMANTS } = sim.metrics.indexOf(INFORMANT_METRICS);
  return {
    name: "informants",
    state: {
      save: () => amount,
      restore(saved) {
        const got = saved as Float64Array;
        if (!(got instanceof Float64Array) || got.length !== amount.length || !got.every((v) => v >= 0 && Number.isFinite(v))) {
          throw new Error(`informants: the checkpoint's reward incomes are not ${amount.length} finite numbers of at least 0`);
        }
        amount.set(got);
      },
    },
    day(sim) {
      if (sim.day === 0) for (const i of ids) sim.metrics.addStock(sim.c.cell[i], INFORMANTS, 1);
      const days = sim.s.observation.informants.rewardIncomeDays;
      const decay = days > 0 ? Math.exp(-1 / days) : 0;
      for (let k = 0; k < ids.length; k++) {
        if (amount[k] === 0) continue;
        amount[k] = amount[k] * decay < SPENT ? 0 : amount[k] * decay;
        incomeChanged(ids[k]);
      }
      const reward = sim.s.observation.informants.rewardPerReport;
      if (days === 0 || reward === 0) return;
      for (const paid of observation.paid()) {
        for (const i of paid) {
          amount[lowerBound(ids, ids.length, i)] += reward / days;
          incomeChanged(i);
        }
      }
    },
  };
}
