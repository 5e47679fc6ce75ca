// Statistical tests: at a large population the simulated rates must match the configured ones.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "../src/model/simulate.js";
import type { RunResult } from "../src/model/result.js";
import { column, countTrail, makeScenario, sum, values, type Overrides } from "./helpers.js";

/** Relative deviation of a simulated value from the expected one. */
const rel = (simulated: number, expected: number) => Math.abs(simulated - expected) / expected;

/**
 * One behaviour (misconduct: no income stress, no age-band activity multiplier), seen only by
 * records with the given coverage; deterrence off, no lists, no association. Propensity is
 * heterogeneous (log-normal, sigma 1, mean 1).
 */
const recordsOnly = (coverage: number, clericalErrorRate: number, ratePerYear: number): Overrides => ({
  population: {
    ageBands: [{ id: "all", share: 1, activity: {} }],
    propensitySigma: 1,
    groups: [],
  },
  behaviours: [{ id: "cheating", class: "misconduct", ratePerYear, points: -1, observedBy: ["records"] }],
  lists: [],
  observation: {
    records: { enabled: true, coverage, clericalErrorRate },
    attention: { enabled: false },
  },
  mechanisms: { deterrence: false },
  metrics: { trailSample: 1_000, distributionEveryDays: 365 },
});

test("statistics at 1,000,000 citizens: records observe acts at their coverage; acts happen at the configured rate", () => {
  const N = 1_000_000, DAYS = 6, RATE = 18.25, COVERAGE = 0.6;
  const r: RunResult = simulate(makeScenario(recordsOnly(COVERAGE, 0, RATE)), { seed: 2024, population: N, days: DAYS });
  const acts = r.summary.acts;
  const perPersonDay = acts / (N * DAYS);
  assert.ok(rel(perPersonDay, RATE / 365) < 0.02, `acts per person-day ${perPersonDay}, expected ${RATE / 365}`);
  // Every day, not just on average.
  for (const daily of column(r, "daily", "acts")) assert.ok(rel(daily / N, RATE / 365) < 0.03, `daily acts ${daily}`);
  const o = r.summary.observations;
  assert.equal(o.misattributed, 0);
  assert.equal(o.invented, 0);
  assert.ok(rel(o.true / acts, COVERAGE) < 0.01, `true observations / acts = ${o.true / acts}, coverage ${COVERAGE}`);
  assert.equal(sum(column(r, "daily", "observations_true")), o.true);
  // Points follow the observations one for one (-1 each, no floor reached).
  assert.equal(sum(column(r, "daily", "penalty_points")), o.true);
  assert.ok(Math.abs(r.summary.metrics.mean_score! - (1000 - o.true / N)) < 1e-6);
});

test("statistics at 1,000,000 citizens: misattributed share of records matches the clerical error rate", () => {
  const N = 1_000_000, DAYS = 4, RATE = 18.25, COVERAGE = 0.9, ERROR = 0.1;
  const r = simulate(makeScenario(recordsOnly(COVERAGE, ERROR, RATE)), { seed: 77, population: N, days: DAYS });
  const o = r.summary.observations;
  const recorded = o.true + o.misattributed;
  assert.ok(recorded > 150_000);
  assert.ok(rel(o.misattributed / recorded, ERROR) < 0.03, `misattributed share ${o.misattributed / recorded}, clerical error rate ${ERROR}`);
  assert.ok(Math.abs(r.summary.metrics.misattributed_share! - o.misattributed / recorded) < 1e-12);
  // A misfiled record is still a record: coverage is unchanged by errors.
  assert.ok(rel(recorded / r.summary.acts, COVERAGE) < 0.01, `recorded / acts = ${recorded / r.summary.acts}`);
  assert.equal(o.invented, 0);
});

test("statistics: cameras observe truly at coverage x true-match rate, and misattribute at coverage x false-match rate", () => {
  const N = 200_000, DAYS = 10, COVERAGE = 0.5, TMR = 0.8, FMR = 0.15;
  const r = simulate(makeScenario({
    population: { ageBands: [{ id: "all", share: 1, activity: {} }], groups: [] },
    behaviours: [{ id: "jaywalking", class: "public", ratePerYear: 36.5, points: -1, observedBy: ["cameras"] }],
    lists: [],
    observation: {
      cameras: { coverageUrban: COVERAGE, coverageRural: COVERAGE, trueMatchRate: TMR, falseMatchRate: FMR, phantomPerYear: 0 },
      attention: { enabled: false },
    },
    mechanisms: { deterrence: false },
    metrics: { trailSample: 1_000 },
  }), { seed: 5, population: N, days: DAYS });
  const acts = r.summary.acts, o = r.summary.observations;
  assert.ok(acts > 150_000);
  assert.ok(rel(acts / (N * DAYS), 0.1) < 0.02, `acts per person-day ${acts / (N * DAYS)}`);
  assert.ok(rel(o.true / acts, COVERAGE * TMR) < 0.01, `true share ${o.true / acts}, expected ${COVERAGE * TMR}`);
  assert.ok(rel(o.misattributed / acts, COVERAGE * FMR) < 0.03, `misattributed share ${o.misattributed / acts}, expected ${COVERAGE * FMR}`);
  assert.equal(o.invented, 0);
});

test("statistics: invented observations (online false positives, phantom camera matches) come at their configured rates", () => {
  const N = 200_000, DAYS = 30, ONLINE = 0.5, FP = 2, CAM = 0.4, PHANTOM = 1;
  const r = simulate(makeScenario({
    population: { groups: [] },
    behaviours: [
      { id: "rumours", class: "speech", ratePerYear: 0, points: -5, observedBy: ["online"] },
      { id: "jaywalking", class: "public", ratePerYear: 0, points: -5, observedBy: ["cameras"] },
    ],
    lists: [],
    observation: {
      online: { coverage: ONLINE, falsePositivePerYear: FP },
      cameras: { coverageUrban: CAM, coverageRural: CAM, phantomPerYear: PHANTOM },
      informants: { enabled: false },
      attention: { enabled: false },
    },
    metrics: { trailSample: 1_000 },
  }), { seed: 9, population: N, days: DAYS });
  const o = r.summary.observations;
  assert.equal(r.summary.acts, 0);
  assert.equal(o.true + o.misattributed, 0);
  // Expected: covered population x yearly rate x years, for each channel.
  const expected = N * (ONLINE * FP + CAM * PHANTOM) * (DAYS / 365);
  assert.ok(rel(o.invented, expected) < 0.03, `invented ${o.invented}, expected ${expected}`);
});

test("statistics: attention kiosks flag members at the rates their inattention and accuracy give, each reading its own member's", () => {
  // 10,000 members, 320 sessions a day: a chunk of 256 and one of 64 (a lost or misread chunk moves the counts by a fifth).
  const N = 20_000, DAYS = 60, MEMBERS = 0.5, SESSIONS = 11.68, INATTENTIVE = 0.2, ACCURACY = 0.7;
  const r = simulate(makeScenario({
    population: { groups: [] },
    behaviours: [{ id: "inattention", class: "misconduct", ratePerYear: 0, points: -1, observedBy: ["attention"] }],
    lists: [],
    observation: {
      cameras: { phantomPerYear: 0 },
      online: { falsePositivePerYear: 0 },
      informants: { enabled: false },
      attention: { enabled: true, behaviour: "inattention", memberShare: MEMBERS, sessionsPerYear: SESSIONS, inattentiveRate: INATTENTIVE, accuracy: ACCURACY },
    },
    metrics: { trailSample: N },
  }), { seed: 31, population: N, days: DAYS });
  const o = r.summary.observations;
  const sessions = N * MEMBERS * SESSIONS * (DAYS / 365);
  assert.equal(o.misattributed, 0);
  // Really inattentive: an act; flagged and really inattentive: true; flagged though attentive: invented.
  const acts = countTrail(r, { event: "act", behaviour: "inattention" });
  assert.ok(rel(acts, sessions * INATTENTIVE) < 0.05, `inattentive sessions ${acts}, expected ${sessions * INATTENTIVE}`);
  assert.ok(rel(o.true, sessions * INATTENTIVE * ACCURACY) < 0.06, `true ${o.true}, expected ${sessions * INATTENTIVE * ACCURACY}`);
  assert.ok(rel(o.invented, sessions * (1 - INATTENTIVE) * (1 - ACCURACY)) < 0.06, `invented ${o.invented}, expected ${sessions * (1 - INATTENTIVE) * (1 - ACCURACY)}`);
  // Every citizen is sampled: each true reading follows that member's inattentive act, the same day.
  const agent = values(r, "trail", "agent"), day = values(r, "trail", "day"), event = values(r, "trail", "event"), kind = values(r, "trail", "kind");
  const inattentive = new Set<string>();
  let checked = 0;
  for (let k = 0; k < agent.length; k++) {
    if (event[k] === "act") inattentive.add(`${agent[k]}:${day[k]}`);
    if (event[k] === "observed" && kind[k] === "true") {
      assert.ok(inattentive.has(`${agent[k]}:${day[k]}`), `a true reading of citizen ${agent[k]} on day ${day[k]} without their act`);
      checked++;
    }
  }
  assert.equal(checked, o.true);
  // A point off for each, against a score far above the floor.
  assert.equal(sum(column(r, "daily", "penalty_points")), o.true + o.invented);
});
