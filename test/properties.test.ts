// Properties that must hold for every seed and setting: fast-check draws seeds and a few
// parameters, runs a small simulation and checks invariants over its tables and summary.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { simulate } from "../src/model/simulate.js";
import type { RunResult } from "../src/model/result.js";
import { citizenHeader } from "../src/cli/explain.js";
import { column, countTrail, ERROR_FREE, deepMerge, makeScenario, rows, sum, values, type Overrides } from "./helpers.js";

const POP = 3_000; // at most metrics.trailSample (20,000): everyone's trail is complete
const seedArb = fc.integer({ min: 0, max: 0x7fffffff });

const run = (overrides: Overrides, seed: number, population = POP, days = 60): RunResult =>
  simulate(makeScenario(overrides), { seed, population, days });

/** Scoring variations that should not break any invariant. */
const scoringArb = fc.record({
  expiryDays: fc.constantFrom(0, 7, 20),
  decayPerYear: fc.constantFrom(0, 0.3),
  eventCap: fc.constantFrom(0, 12),
  min: fc.constantFrom(0, 900),
  max: fc.constantFrom(1040, 1300),
  association: fc.boolean(),
  pull: fc.constantFrom(0, 0.2),
  appeals: fc.boolean(),
  minDays: fc.constantFrom(0, 10, 40),
  durationDays: fc.constantFrom(0, 15),
  payment: fc.boolean(),
  firms: fc.boolean(),
});
type ScoringParams = {
  expiryDays: number; decayPerYear: number; eventCap: number; min: number; max: number; association: boolean; pull: number; appeals: boolean;
  minDays?: number; durationDays?: number; payment?: boolean; firms?: boolean;
};

const scoringOverrides = (p: ScoringParams): Overrides => ({
  scoring: {
    expiryDays: p.expiryDays, decayPerYear: p.decayPerYear, eventCap: p.eventCap, min: p.min, max: p.max,
    association: { enabled: p.association, pull: p.pull, pullEveryDays: 15 },
  },
  // A redlist must stay reachable under the lower ceiling.
  lists: [
    { id: "low-score", kind: "black", entry: { scoreBelow: 950 }, minDays: p.minDays ?? 0, published: true, sanctions: ["flights", "trains", "jobs"] },
    {
      id: "debtors", kind: "black", entry: { acts: ["court-default"], firms: p.firms ?? false }, sanctions: ["flights", "hotels"],
      durationDays: p.durationDays ?? 0, paymentExit: { enabled: p.payment ?? false, perYear: 6, delayDays: 2 },
    },
    { id: "honour", kind: "red", entry: { scoreAtLeast: 1020 }, privileges: ["deposit-waiver", "transit-discount"] },
  ],
  // Firms whose blacklisting puts their representative on the debtors' list (entry.firms), often.
  firms: {
    enabled: p.firms ?? false, perCitizen: 0.05, initial: 50, recoveryPerYear: 30, blacklistBelow: 40,
    behaviours: [{ id: "tax-arrears", ratePerYear: 4, points: -5 }],
  },
  appeals: { enabled: p.appeals, fileRate: 0.3, fileRateWrongful: 0.9, stages: [{ latencyDays: 2, capacityPerMillionPerDay: 50_000, accuracy: 1 }] },
});

test("property: with every error rate zero nobody is listed wrongly and every observation is true", () => {
  fc.assert(
    fc.property(seedArb, scoringArb, (seed, p) => {
      const r = run(deepMerge(scoringOverrides(p), ERROR_FREE), seed);
      const o = r.summary.observations;
      assert.ok(o.true > 0);
      assert.equal(o.misattributed, 0, "misattributed observations");
      assert.equal(o.invented, 0, "invented observations");
      assert.equal(r.summary.informants.falseReports, 0);
      assert.equal(countTrail(r, { event: "observed", kind: "misattributed" }), 0);
      assert.equal(countTrail(r, { event: "observed", kind: "invented" }), 0);
      for (const l of r.summary.lists) assert.equal(l.wrongfulEnd, 0, `wrongful on ${l.id} at the end`);
      assert.ok(r.summary.lists.some((l) => l.everListed > 0), "somebody is listed");
      const wrongful = values(r, "list_events", "wrongful");
      const bad = wrongful.findIndex((w) => w === true);
      assert.equal(bad, -1, bad < 0 ? "" : `list event ${bad} is wrongful: list ${values(r, "list_events", "list")[bad]}, ` +
        `reason ${values(r, "list_events", "reason")[bad]}, agent ${column(r, "list_events", "agent")[bad]}`);
      assert.equal(sum(column(r, "daily", "wrongful_low-score")) + sum(column(r, "daily", "wrongful_debtors")) + sum(column(r, "daily", "wrongful_honour")), 0);
      assert.ok(values(r, "citizens", "wrongfully_listed").every((w) => w === false));
      // What `explain` says of each listed citizen.
      for (const c of rows(r, "citizens").filter((c) => c.lists)) assert.ok(!citizenHeader(c, c.agent as number).includes("YES"), `explain ${c.agent}`);
      // The record and ground truth agree for everyone.
      const score = column(r, "citizens", "score"), truth = column(r, "citizens", "error_free_score");
      for (let k = 0; k < score.length; k++) assert.ok(Math.abs(score[k] - truth[k]) < 1e-3, `citizen row ${k}: score ${score[k]}, error-free ${truth[k]}`);
    }),
    { numRuns: 16, includeErrorInReport: true, endOnFailure: true },
  );
});

test("property: with errors on, a listing by act is wrongful exactly when the error-free record, rebuilt from the trail, would not hold it, at entry and at exit", () => {
  // The error-free twin of an act list, rebuilt independently: a person is on it from the first
  // day a channel saw them do the act (seen as theirs, or misattributed to someone else) until
  // durationDays later, and enters again on the next act seen after that.
  fc.assert(
    fc.property(seedArb, fc.constantFrom(0, 12, 30), fc.constantFrom(0.05, 0.3), (seed, durationDays, clerical) => {
      const r = run({
        lists: [{ id: "debtors", kind: "black", entry: { acts: ["court-default"] }, durationDays, sanctions: ["flights"] }],
        behaviours: [{ id: "court-default", class: "financial", ratePerYear: 3, points: 0, observedBy: ["records"] }],
        observation: { records: { clericalErrorRate: clerical }, attention: { enabled: false } },
      }, seed);
      const seenDays = new Map<number, number[]>();
      const ev = values(r, "trail", "event"), kind = values(r, "trail", "kind"), beh = values(r, "trail", "behaviour");
      const agent = column(r, "trail", "agent"), other = column(r, "trail", "other"), day = column(r, "trail", "day");
      for (let k = 0; k < ev.length; k++) {
        if (ev[k] !== "observed" || beh[k] !== "court-default" || kind[k] === "invented") continue;
        const who = kind[k] === "true" ? agent[k] : other[k];
        seenDays.set(who, [...(seenDays.get(who) ?? []), day[k]]);
      }
      const onTwin = (i: number, d: number): boolean => {
        let since = -1;
        for (const x of (seenDays.get(i) ?? []).sort((a, b) => a - b)) {
          if (x > d) break;
          if (since < 0 || (durationDays > 0 && x - since >= durationDays)) since = x;
        }
        return since >= 0 && (durationDays === 0 || d - since < durationDays);
      };
      const events = rows(r, "list_events");
      assert.ok(events.some((e) => e.wrongful === true), "positive control: some listing is wrongful");
      // An entry is assessed on its day; an exit as the listing stood on its last day listed.
      for (const e of events) {
        const asOf = e.event === "enter" ? (e.day as number) : (e.day as number) - 1;
        assert.equal(e.wrongful, !onTwin(e.agent as number, asOf), `${e.event} of ${e.agent} on day ${e.day}`);
      }
    }),
    { numRuns: 6, includeErrorInReport: true, endOnFailure: true },
  );
});

// The same property at one fixed point, where the scale's floor clamps penalties that later
// expire: nobody may be listed wrongly, and the record must still equal ground truth.
test("error-free observation: penalties clamped at the floor that expire list nobody wrongly", () => {
  const r = run(deepMerge({
    behaviours: [{ id: "court-default", class: "misconduct", ratePerYear: 24, points: -30, observedBy: ["records"] }],
    scoring: { min: 900, expiryDays: 10 },
    lists: [{ id: "low-score", kind: "black", entry: { scoreBelow: 950 }, sanctions: ["flights"] }],
    observation: { attention: { enabled: false } },
  }, ERROR_FREE), 1, POP, 90);
  assert.equal(r.summary.observations.misattributed + r.summary.observations.invented, 0);
  assert.ok(r.summary.lists[0].everListed > 50);
  assert.equal(r.summary.lists[0].wrongfulEnd, 0, "wrongful listings at the end with every error rate zero");
  assert.equal(values(r, "list_events", "wrongful").filter((w) => w === true).length, 0, "wrongful list entries");
  const agent = column(r, "citizens", "agent"), score = column(r, "citizens", "score"), truth = column(r, "citizens", "error_free_score");
  const differ: string[] = [];
  for (let k = 0; k < score.length; k++) if (Math.abs(score[k] - truth[k]) > 1e-3) differ.push(`${agent[k]}: ${score[k]} vs ${truth[k]}`);
  assert.equal(differ.length, 0, `${differ.length} citizens whose score differs from the error-free score, e.g. ${differ.slice(0, 3).join("; ")}`);
});

test("property: association disabled charges nobody for anyone else's acts", () => {
  fc.assert(
    fc.property(seedArb, fc.boolean(), fc.constantFrom(0, 0.3), (seed, viaMaster, pull) => {
      // Either scoring.association is off, or it is on and the master switch is off.
      const r = run({
        scoring: { association: { enabled: viaMaster, householdShare: 0.3, friendShare: 0.2, pull, pullEveryDays: 10 } },
        mechanisms: { association: !viaMaster },
      }, seed);
      assert.equal(r.summary.association.charges, 0);
      assert.equal(r.summary.association.points, 0);
      assert.equal(r.summary.association.shareOfPenaltyPoints, 0);
      assert.equal(sum(column(r, "daily", "association_charges")), 0);
      assert.equal(sum(column(r, "daily", "association_points")), 0);
      assert.equal(countTrail(r, { event: "association" }), 0);
      assert.equal(countTrail(r, { event: "pull" }), 0);
      assert.ok(Array.from(column(r, "citizens", "association_points")).every((v) => v === 0));
      assert.ok(Array.from(column(r, "list_events", "via_association")).every((v) => v === 0));
      assert.ok(r.summary.acts > 0 && r.summary.observations.true > 0);
    }),
    { numRuns: 8, includeErrorInReport: true, endOnFailure: true },
  );
  // Positive control: the same scenario with association on does charge people.
  const on = run({ scoring: { association: { enabled: true, householdShare: 0.3, friendShare: 0.2 } } }, 1);
  assert.ok(on.summary.association.charges > 0 && countTrail(on, { event: "association" }) > 0);
});

test("property: scores stay within [scoring.min, scoring.max]", () => {
  fc.assert(
    fc.property(seedArb, scoringArb, (seed, p) => {
      const r = run(scoringOverrides(p), seed);
      const { min: lo, max: hi } = r.scenario.scoring;
      const inRange = (v: number) => v >= lo && v <= hi;
      const score = column(r, "citizens", "score");
      assert.equal(score.length, POP);
      for (let k = 0; k < score.length; k++) assert.ok(inRange(score[k]), `citizen row ${k}: score ${score[k]} outside [${lo}, ${hi}]`);
      const trailScore = column(r, "trail", "score");
      for (let k = 0; k < trailScore.length; k++) assert.ok(inRange(trailScore[k]), `trail row ${k}: score ${trailScore[k]}`);
      for (const v of column(r, "daily", "mean_score")) assert.ok(inRange(v), `mean score ${v}`);
      // The distribution: bins inside the scale, and each snapshot counts everyone once.
      const day = column(r, "score_distribution", "day"), count = column(r, "score_distribution", "count");
      const low = column(r, "score_distribution", "bin_low"), high = column(r, "score_distribution", "bin_high");
      const perDay = new Map<number, number>();
      for (let k = 0; k < day.length; k++) {
        assert.ok(low[k] >= lo - 1e-9 && high[k] <= hi + 1e-9 && low[k] < high[k], `bin [${low[k]}, ${high[k]})`);
        perDay.set(day[k], (perDay.get(day[k]) ?? 0) + count[k]);
      }
      assert.ok(perDay.has(0) && perDay.has(59), "snapshots on the first and last day");
      for (const [d, n] of perDay) assert.equal(n, POP, `distribution on day ${d}`);
      // The last snapshot matches the final scores.
      let lowest = Infinity, highest = -Infinity;
      for (let k = 0; k < day.length; k++) {
        if (day[k] !== 59) continue;
        lowest = Math.min(lowest, low[k]);
        highest = Math.max(highest, high[k]);
      }
      for (let k = 0; k < score.length; k++) assert.ok(score[k] >= lowest && (score[k] < highest || score[k] === hi));
    }),
    { numRuns: 10, includeErrorInReport: true, endOnFailure: true },
  );
});

test("property: initial score plus the points in a citizen's trail is their final score", () => {
  fc.assert(
    // partial: a trail sample of about a quarter, which the hot loops test by hashing the id.
    fc.property(seedArb, scoringArb, fc.boolean(), fc.boolean(), (seed, p, errors, partial) => {
      const overrides = deepMerge(errors ? scoringOverrides(p) : deepMerge(scoringOverrides(p), ERROR_FREE), partial ? { metrics: { trailSample: 800 } } : {});
      const r = run(overrides, seed);
      const initial = r.scenario.scoring.initial;
      const agent = column(r, "trail", "agent"), points = column(r, "trail", "points"), after = column(r, "trail", "score");
      const total = new Map<number, number>();
      const last = new Map<number, number>();
      let rowsWithPoints = 0;
      for (let k = 0; k < agent.length; k++) {
        if (Number.isNaN(points[k])) continue;
        rowsWithPoints++;
        total.set(agent[k], (total.get(agent[k]) ?? 0) + points[k]);
        // The running sum equals the score written on the row.
        assert.ok(Math.abs(initial + total.get(agent[k])! - after[k]) < 1e-6, `trail row ${k}: running sum ${initial + total.get(agent[k])!}, score ${after[k]}`);
        last.set(agent[k], after[k]);
      }
      assert.ok(rowsWithPoints > 100);
      const citizens = column(r, "citizens", "agent"), score = column(r, "citizens", "score");
      if (partial) {
        assert.ok(citizens.length > 600 && citizens.length < 1_000, `${citizens.length} sampled of ${POP}, expected about 800`);
        const sampled = new Set(citizens);
        assert.ok(Array.from(agent).every((a) => sampled.has(a)), "trail rows only for sampled citizens");
      } else {
        assert.equal(citizens.length, POP, "everyone is sampled");
      }
      for (let k = 0; k < citizens.length; k++) {
        const expected = initial + (total.get(citizens[k]) ?? 0);
        assert.ok(Math.abs(expected - score[k]) < 1e-6,
          `citizen ${citizens[k]}: initial ${initial} + trail points ${total.get(citizens[k]) ?? 0} = ${expected}, final score ${score[k]}`);
      }
    }),
    { numRuns: 12, includeErrorInReport: true, endOnFailure: true },
  );
});

test("property: list stocks in the summary match the list event log", () => {
  fc.assert(
    fc.property(seedArb, scoringArb, (seed, p) => {
      const r = run(scoringOverrides(p), seed);
      const list = values(r, "list_events", "list"), event = values(r, "list_events", "event");
      for (const l of r.summary.lists) {
        let enter = 0, exit = 0;
        for (let k = 0; k < list.length; k++) if (list[k] === l.id) (event[k] === "enter" ? enter++ : exit++);
        assert.equal(l.entries, enter, `${l.id} entries`);
        assert.equal(l.exits, exit, `${l.id} exits`);
        assert.equal(l.onListEnd, enter - exit, `${l.id} on the list at the end`);
        assert.ok(l.wrongfulEnd <= l.onListEnd && l.wrongfulEnd >= 0);
        const onList = values(r, "citizens", "lists").filter((x) => String(x).split(",").includes(l.id)).length;
        assert.equal(onList, l.onListEnd, `${l.id}: citizens table`);
      }
      // citizens.wrongfully_listed ("on a list at the end that ground truth does not justify")
      // agrees with the summary's wrongful stocks: at least the largest, at most their sum.
      const wrongfulCitizens = values(r, "citizens", "wrongfully_listed").filter((w) => w === true).length;
      const ends = r.summary.lists.map((l) => l.wrongfulEnd);
      assert.ok(wrongfulCitizens >= Math.max(...ends) && wrongfulCitizens <= sum(ends),
        `citizens wrongfully listed at the end: ${wrongfulCitizens}; summary wrongful per list: ${ends.join(", ")}`);
    }),
    { numRuns: 8, includeErrorInReport: true, endOnFailure: true },
  );
});

// The daily review is what ends a listing by score and re-reads its ground-truth flags: after
// the last one, every listing must meet its rule and carry the flags the final scores give.
test("property: at the end, listings by score hold, the error-free twin holds whoever its score lists, and wrongful means off the twin", () => {
  fc.assert(
    fc.property(seedArb, scoringArb, fc.constantFrom(0, 6, 15), (seed, p, minDays) => {
      // Appeals change scores after the review, so the end would not be reviewed yet.
      const o = scoringOverrides({ ...p, appeals: false });
      const [low, debtors, honour] = o.lists as { entry: { scoreBelow?: number; scoreAtLeast?: number } }[];
      const r = run({ ...o, lists: [{ ...low, minDays }, debtors, honour] }, seed);
      const score = column(r, "citizens", "score"), errorFree = column(r, "citizens", "error_free_score");
      const assoc = column(r, "citizens", "association_points"), on = values(r, "citizens", "lists"), agent = column(r, "citizens", "agent");
      const twin = values(r, "citizens", "error_free_lists");
      const since = new Map<number, number>();
      const ev = rows(r, "list_events").filter((e) => e.list === "low-score" && e.event === "enter");
      for (const e of ev) since.set(e.agent as number, e.day as number);
      const days = r.summary.days;
      for (const [id, below, t] of [["low-score", true, low.entry.scoreBelow!], ["honour", false, honour.entry.scoreAtLeast!]] as const) {
        let wrongful = 0, via = 0, members = 0;
        for (let i = 0; i < score.length; i++) {
          // The twin lists everyone whose error-free score is past the line; with no minimum stay, nobody else.
          const past = below ? errorFree[i] < t : errorFree[i] >= t, onTwin = String(twin[i]).split(",").includes(id);
          if (past) assert.ok(onTwin, `${agent[i]}: error-free score ${errorFree[i]} past ${t}, not on the twin of ${id}`);
          if (!below || minDays === 0) assert.equal(onTwin, past, `${agent[i]}: on the twin of ${id} with error-free score ${errorFree[i]}`);
          if (!String(on[i]).split(",").includes(id)) continue;
          members++;
          const stay = days - 1 - since.get(agent[i])!;
          if (below) assert.ok(score[i] < t || stay < minDays, `${agent[i]} on ${id} with ${score[i]} after ${stay} days`);
          else assert.ok(score[i] >= t, `${agent[i]} on ${id} with ${score[i]}`);
          wrongful += onTwin ? 0 : 1;
          via += below ? +(score[i] - assoc[i] >= t) : +(score[i] - assoc[i] < t);
        }
        const l = r.summary.lists.find((x) => x.id === id)!;
        assert.equal(l.onListEnd, members, `${id} members`);
        assert.equal(l.wrongfulEnd, wrongful, `${id}: wrongful at the end`);
        assert.equal(l.viaAssociationEnd, via, `${id}: listed through association at the end`);
      }
    }),
    { numRuns: 10, includeErrorInReport: true, endOnFailure: true },
  );
});
