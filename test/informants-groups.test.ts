// Informants who are paid, and groups with lives of their own (issue 31, items 2 and 3):
// metamorphic tests (switch an effect on: a stated quantity moves the stated way) and a
// statistical test of targeting's estimators.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "../src/model/simulate.js";
import type { RunResult } from "../src/model/result.js";
import { ScenarioError } from "../src/scenario/load.js";
import { Rng } from "../src/engine/random.js";
import { moveWatch, targetPerHead } from "../src/model/watch.js";
import { column, makeScenario, sum, values, type Overrides } from "./helpers.js";

const run = (overrides: Overrides, seed = 3, population?: number, threads = 1) =>
  simulate(makeScenario(overrides), { seed, threads, ...(population ? { population } : {}) });
const total = (r: RunResult, name: string) => sum(column(r, "daily", name));

// ---------------------------------------------------------------- informants

/** Informants who respond to the reward (elasticity 1, reference 50), with rewards as income. */
const PAID = (reward: number, extra: Overrides = {}): Overrides => ({
  days: 120,
  population: { size: 20_000 },
  observation: { informants: { share: 0.05, falseReportsPerYear: 2, rewardPerReport: reward, referenceReward: 50, rewardElasticity: 1, rewardIncomeDays: 30, ...extra } },
});

test("paying informants more raises their reports, true and false, and recruits more of them", () => {
  const low = run(PAID(10)), high = run(PAID(500));
  const m = (r: RunResult, k: string) => r.summary.metrics[k] as number;
  assert.ok(total(high, "informants") > 0);
  const informants = (r: RunResult) => column(r, "daily", "informants")[0];
  // Recruitment: ((r + 50) / 100)^1 = 0.6 against 5.5 times the share.
  assert.ok(informants(high) > 5 * informants(low), `informants ${informants(low)} -> ${informants(high)}`);
  assert.ok(total(high, "informant_reports_true") > 10 * total(low, "informant_reports_true"), "true reports");
  assert.ok(total(high, "false_reports") > 10 * total(low, "false_reports"), "false reports");
  // Per informant too: the report probability and the false-report rate respond as well as the share.
  assert.ok(m(high, "true_reports_per_informant") > 4 * m(low, "true_reports_per_informant"));
  assert.ok(m(high, "false_reports_per_informant") > 4 * m(low, "false_reports_per_informant"));
  // Every report of a paid informant is paid.
  assert.equal(total(high, "informant_reports_paid"), total(high, "informant_reports_true") + total(high, "false_reports"));
});

test("false reports follow their own elasticity when one is given", () => {
  const flat = (reward: number) => run(PAID(reward, { falseReportElasticity: 0 }));
  const low = flat(10), high = flat(500);
  const perInformant = (r: RunResult) => r.summary.metrics.false_reports_per_informant as number;
  // Without elasticity the rate per informant stays (Poisson noise only), while true reports per informant rise.
  assert.ok(Math.abs(perInformant(high) / perInformant(low) - 1) < 0.25, `${perInformant(low)} -> ${perInformant(high)}`);
  assert.ok((high.summary.metrics.true_reports_per_informant as number) > 4 * (low.summary.metrics.true_reports_per_informant as number));
});

/** Mean income at the end of the informants and of everyone else (the citizens table: everyone at 20,000). */
function incomes(r: RunResult): { informants: number; others: number } {
  const income = column(r, "citizens", "income"), informant = values(r, "citizens", "informant");
  let a = 0, na = 0, b = 0, nb = 0;
  for (let k = 0; k < income.length; k++) {
    if (informant[k]) { a += income[k]; na++; } else { b += income[k]; nb++; }
  }
  return { informants: a / na, others: b / nb };
}

test("rewards are paid into the informants' income; a reward of 0 pays nobody", () => {
  const reward = 500;
  const paid = run(PAID(reward)), unpaidIncome = run(PAID(reward, { rewardIncomeDays: 0 })), unpaid = run(PAID(0));
  // Rewards counted, but none reaching income, is the same run as rewards not being income at all, but for the count.
  assert.equal(total(unpaid, "informant_rewards"), 0);
  assert.equal(total(unpaid, "informant_reports_paid"), 0);
  assert.ok(total(unpaid, "informant_reports_true") > 0, "unpaid informants still report");
  const unpaidAtZeroDays = run(PAID(0, { rewardIncomeDays: 0 }));
  assert.deepEqual(column(unpaid, "citizens", "income"), column(unpaidAtZeroDays, "citizens", "income"));
  // Paid: the informants' mean income rises by about what they were paid lately (each reward is income worth r/30 a day, decaying).
  const gain = incomes(paid).informants - incomes(unpaidIncome).informants;
  assert.ok(gain > 1, `informants' income gain ${gain}`);
  const lastMonth = sum(Array.from(column(paid, "daily", "informant_rewards")).slice(-30)) / column(paid, "daily", "informants")[0] / 30;
  assert.ok(gain > 0.3 * lastMonth && gain < 3 * lastMonth, `gain ${gain} against ${lastMonth} a day paid over the last month`);
  // Nobody else is paid: the others' mean income moves by far less (only through what the income changed).
  assert.ok(Math.abs(incomes(paid).others - incomes(unpaidIncome).others) < gain / 20, `others ${incomes(unpaidIncome).others} -> ${incomes(paid).others}, informants +${gain}`);
});

// ---------------------------------------------------------------- groups

/** Acts of behaviour `b` by members of `group` (the trail keeps everyone at this size). */
function actsOf(r: RunResult, b: string, group: string): number {
  const groupOf = new Map<number, unknown>();
  const agents = column(r, "citizens", "agent"), groups = values(r, "citizens", "group");
  for (let k = 0; k < agents.length; k++) groupOf.set(agents[k], groups[k]);
  const agent = column(r, "trail", "agent"), event = values(r, "trail", "event"), behaviour = values(r, "trail", "behaviour");
  let n = 0;
  for (let k = 0; k < agent.length; k++) if (event[k] === "act" && behaviour[k] === b && groupOf.get(agent[k]) === group) n++;
  return n;
}

/** Deterrence and chilling off: what people do does not depend on the watch (the true rates are the given ones). */
const UNWATCHED: Overrides = { mechanisms: { deterrence: false, chilling: false } };

test("a group's rate multiplier of k on a behaviour multiplies its members' acts of it by about k, and nobody else's", () => {
  const group = (rates: Record<string, number>) => ({ population: { size: 20_000, groups: [{ id: "minority", share: 0.2, watchMultiplier: 2, rates }] } });
  const base = run({ ...UNWATCHED, days: 120, ...group({}) });
  const more = run({ ...UNWATCHED, days: 120, ...group({ cheating: 4 }) });
  const ratio = actsOf(more, "cheating", "minority") / actsOf(base, "cheating", "minority");
  assert.ok(Math.abs(ratio - 4) < 0.6, `minority's cheating x${ratio}`);
  assert.ok(Math.abs(actsOf(more, "cheating", "majority") / actsOf(base, "cheating", "majority") - 1) < 0.1, "the majority's cheating stays");
  assert.ok(Math.abs(actsOf(more, "rumours", "minority") / actsOf(base, "rumours", "minority") - 1) < 0.15, "the minority's other acts stay");
  // By class: every behaviour of the class.
  const byClass = run({ ...UNWATCHED, days: 120, population: { size: 20_000, groups: [{ id: "minority", share: 0.2, classRates: { speech: 3 } }] } });
  assert.ok(Math.abs(actsOf(byClass, "rumours", "minority") / actsOf(base, "rumours", "minority") - 3) < 0.5);
});

test("a group's rate for a behaviour the scenario does not have is refused, naming the group and the id", () => {
  assert.throws(
    () => makeScenario({ population: { groups: [{ id: "minority", share: 0.1, rates: { "unregistered-worship": 20 } }] } }),
    (e: unknown) => e instanceof ScenarioError && /population\.groups\[0\]\.rates\.unregistered-worship/.test(e.message) && /group minority/.test(e.message),
  );
});

// ---------------------------------------------------------------- targeting

/** Targeting's weight of each region or group on the last day (the daily tables' watch_weight over population). */
function weights(r: RunResult, table: "daily_region" | "daily_group"): number[] {
  const day = column(r, table, "day"), w = column(r, table, "watch_weight"), pop = column(r, table, "population");
  const last = Math.max(...day);
  const out: number[] = [];
  for (let k = 0; k < day.length; k++) if (day[k] === last) out.push(w[k] / pop[k]);
  return out;
}

/**
 * Regions of unequal size and urbanity (cameras see towns more than the countryside) and a
 * minority watched three times as closely, concentrated in one region; everyone's true rates
 * equal (nothing responds to the watch).
 */
const TARGETED = (mode: string, by: string): Overrides => ({
  ...UNWATCHED,
  days: 720,
  population: {
    size: 20_000,
    regions: [
      { name: "North", weight: 3, urbanShare: 0.9 },
      { name: "South", weight: 1, urbanShare: 0.5 },
      { name: "West", weight: 1, urbanShare: 0.1 },
    ],
    groups: [{ id: "minority", share: 0.02, shareByRegion: { West: 0.6 }, watchMultiplier: 3 }],
  },
  observation: { targeting: { enabled: true, everyDays: 30, share: 0.5, mode, by } },
});

test("targeting by group under `recorded` runs away for a group watched more at the start (Ensign et al. 2018); `corrected` keeps it even", () => {
  const recorded = weights(run(TARGETED("recorded", "group")), "daily_group");
  const corrected = weights(run(TARGETED("corrected", "group")), "daily_group");
  // [majority, minority]: the minority recorded three times as much per head, so given more watch, so recorded more,
  // until its cameras and monitors see everything (coverage 1 caps the loop).
  assert.ok(recorded[1] > 2.5, `minority's weight under recorded: ${recorded[1]}`);
  assert.ok(Math.abs(corrected[1] - 1) < 0.25 && Math.abs(corrected[0] - 1) < 0.05, `under corrected: ${corrected}`);
});

test("`corrected` targeting by region returns to even watch when true rates are equal; `recorded` does not", () => {
  const corrected = weights(run(TARGETED("corrected", "region")), "daily_region");
  for (const w of corrected) assert.ok(Math.abs(w - 1) < 0.15, `region weights under corrected: ${corrected}`);
  const recorded = weights(run(TARGETED("recorded", "region")), "daily_region");
  assert.ok(Math.max(...recorded) / Math.min(...recorded) > 1.5, `region weights under recorded: ${recorded}`);
});

/**
 * The estimators alone, many periods of Poisson records: units of unequal size and unequal
 * coverage at even watch (urbanity, watched groups), equal true rates. Returns each unit's
 * weight averaged over the last half of the periods, and the largest deviation from 1.
 */
type Estimator = (recorded: Float64Array, exposure: Float64Array, pop: Float64Array, weights: Float64Array) => Float64Array;
function longRun(estimate: Estimator, seed: number): number {
  const rng = new Rng(seed);
  const pop = Float64Array.from([300_000, 100_000, 100_000, 50_000]);
  const baseCoverage = [[0.27, 0.5], [0.19, 0.5], [0.11, 0.5], [0.3, 0.9]]; // per unit: cameras, online, at weight 1
  const ratePerPeriod = 0.002; // records per head per period at full coverage, every unit alike
  const weights = new Float64Array(pop.length).fill(1);
  const periods = 400, mean = new Float64Array(pop.length);
  for (let t = 0; t < periods; t++) {
    const recorded = new Float64Array(pop.length * 2), exposure = new Float64Array(pop.length * 2);
    for (let u = 0; u < pop.length; u++) {
      for (let k = 0; k < 2; k++) {
        const coverage = Math.min(1, baseCoverage[u][k] * weights[u]);
        exposure[u * 2 + k] = pop[u] * coverage;
        recorded[u * 2 + k] = rng.poisson(pop[u] * coverage * ratePerPeriod * (k === 0 ? 1 : 0.5));
      }
    }
    moveWatch(weights, estimate(recorded, exposure, pop, weights), pop, 0.5);
    if (t >= periods / 2) for (let u = 0; u < pop.length; u++) mean[u] += weights[u] / (periods / 2);
  }
  return Math.max(...Array.from(mean, (w) => Math.abs(w - 1)));
}

test("targeting's corrected estimator converges to even watch when true rates are equal; recorded and a broken one do not", () => {
  const corrected: Estimator = (rec, exp, pop) => targetPerHead("corrected", rec, exp, pop);
  const recorded: Estimator = (rec, exp, pop) => targetPerHead("recorded", rec, exp, pop);
  // The estimator the issue measured: records per head over the unit's watch weight, blind to what else sets its coverage.
  const overWeight: Estimator = (rec, exp, pop, w) => targetPerHead("recorded", rec, exp, pop).map((t, u) => t / w[u]);
  for (const seed of [1, 2, 3]) {
    assert.ok(longRun(corrected, seed) < 0.05, `corrected, seed ${seed}: ${longRun(corrected, seed)}`);
    assert.ok(longRun(recorded, seed) > 0.3, `recorded, seed ${seed}: ${longRun(recorded, seed)}`);
    assert.ok(longRun(overWeight, seed) > 0.3, `records over weight, seed ${seed}: ${longRun(overWeight, seed)}`);
  }
});

// ---------------------------------------------------------------- determinism

test("paid informants, group rates and targeting by region and group: the same on 1, 2 and 3 threads", () => {
  const s: Overrides = {
    ...PAID(500), days: 90,
    population: { size: 20_000, groups: [{ id: "minority", share: 0.1, watchMultiplier: 2, rates: { cheating: 5 }, classRates: { speech: 2 } }] },
    observation: { informants: { rewardPerReport: 500, rewardIncomeDays: 30, rewardElasticity: 0.5 }, targeting: { enabled: true, everyDays: 15, mode: "corrected", by: "both" } },
  };
  const [one, two, three] = [1, 2, 3].map((threads) => run(s, 9, undefined, threads));
  for (const other of [two, three]) {
    assert.deepEqual(other.summary, one.summary);
    for (const [t, c] of [["daily_cell", "watch_weight"], ["daily_cell", "acts"], ["citizens", "income"], ["daily_cell", "informant_reports_paid"]] as const) {
      assert.deepEqual(column(other, t, c), column(one, t, c), `${t}.${c}`);
    }
  }
});
