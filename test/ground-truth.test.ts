// The truth beside the record: who errors can fall on, firms' listings assessed like anyone's,
// the lists switched off meaning nobody restricted, acts the kiosks see counted as acts, and
// values with an empty denominator reported as undefined rather than 0.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "../src/model/simulate.js";
import type { RunResult } from "../src/model/result.js";
import { column, makeScenario, rows, sum, values, type Overrides } from "./helpers.js";

const run = (overrides: Overrides, seed: number, population = 6_000, days = 90): RunResult =>
  simulate(makeScenario(overrides), { seed, population, days });

// Every kind of error, far above any published rate, and firms whose blacklisting lists their representative.
const MANY_ERROR_RATES = {
    cameras: { trueMatchRate: 0.6, falseMatchRate: 0.3, phantomPerYear: 0.5, coverageUrban: 0.8, coverageRural: 0.5 },
    records: { clericalErrorRate: 0.4 },
    online: { falsePositivePerYear: 0.5 },
    informants: { falseReportsPerYear: 5 },
};
const MANY_ERRORS: Overrides = { observation: MANY_ERROR_RATES };
const FIRMS: Overrides = {
  firms: { enabled: true, perCitizen: 0.05, initial: 50, recoveryPerYear: 20, blacklistBelow: 40, behaviours: [{ id: "tax-arrears", ratePerYear: 6, points: -5 }] },
};
const withFirmList = (published: boolean): Overrides => ({
  lists: [
    { id: "low-score", kind: "black", entry: { scoreBelow: 950 }, sanctions: ["flights"] },
    { id: "debtors", kind: "black", entry: { acts: ["court-default"] }, sanctions: ["flights", "hotels"] },
    { id: "representatives", kind: "black", entry: { firms: true }, published, sanctions: ["trains"] },
  ],
});

test("errors fall only on people who can be subject to the act: no minor is listed for a financial or court act", () => {
  // Court defaults listed by act, at rates that put many on the list by error alone; cheating
  // (misconduct, which minors do) may still be misattributed to them: the positive control.
  const overrides = (errorsFallOn: "plausible" | "anyone"): Overrides => ({
    ...MANY_ERRORS,
    observation: { ...MANY_ERROR_RATES, errorsFallOn },
    behaviours: [
      { id: "court-default", class: "financial", ratePerYear: 2, points: -50, observedBy: ["records", "informants"] },
      { id: "cheating", class: "misconduct", ratePerYear: 1, points: -30, observedBy: ["records", "informants"] },
      { id: "inattention", class: "misconduct", ratePerYear: 0, points: -10, observedBy: ["attention"] },
    ],
    lists: [
      { id: "debtors", kind: "black", entry: { acts: ["court-default"] }, sanctions: ["flights"] },
      { id: "cheats", kind: "black", entry: { acts: ["cheating"] }, sanctions: ["trains"] },
    ],
  });
  const minorsListed = (r: RunResult, list: string) => {
    const band = new Map(rows(r, "citizens").map((c) => [c.agent, c.age_band]));
    return rows(r, "list_events").filter((e) => e.event === "enter" && e.list === list && band.get(e.agent) === "under-18").length;
  };
  for (const seed of [1, 2]) {
    const r = run(overrides("plausible"), seed);
    assert.ok(r.summary.observations.misattributed > 100, "positive control: many misattributions");
    assert.ok(listOf(r, "debtors").wrongfulEnd > 0, "positive control: errors list people wrongly");
    assert.equal(minorsListed(r, "debtors"), 0, "minors on the debtors' list");
    assert.ok(minorsListed(r, "cheats") > 0, "positive control: minors can be listed for misconduct");
    // Every observation of a financial act is held against someone whose age band does financial acts.
    const band = new Map(rows(r, "citizens").map((c) => [c.agent, c.age_band]));
    const ev = values(r, "trail", "event"), beh = values(r, "trail", "behaviour"), agent = column(r, "trail", "agent");
    for (let k = 0; k < ev.length; k++) {
      if (ev[k] === "observed" && beh[k] === "court-default") assert.notEqual(band.get(agent[k]), "under-18", `trail row ${k}`);
    }
  }
  // The parameter that says otherwise: errors may fall on anyone.
  assert.ok(minorsListed(run(overrides("anyone"), 1), "debtors") > 0, "errorsFallOn: anyone lists minors");
});

const listOf = (r: RunResult, id: string) => r.summary.lists.find((l) => l.id === id)!;

test("firms: a representative is on the list while their firm is blacklisted, and a firm's clerical error is a wrongful listing", () => {
  const errorFree = run({ ...FIRMS, ...withFirmList(true), observation: { records: { clericalErrorRate: 0 }, cameras: { falseMatchRate: 0, phantomPerYear: 0 }, online: { falsePositivePerYear: 0 }, informants: { falseReportsPerYear: 0 }, attention: { accuracy: 1 } } }, 3);
  const reps = listOf(errorFree, "representatives");
  assert.ok(reps.entries > 20, `positive control: representatives listed (${reps.entries})`);
  assert.equal(rows(errorFree, "list_events").filter((e) => e.list === "representatives" && e.wrongful === true).length, 0);
  // Each representative's listing follows the firm log: on the list at the end iff a firm they represent is blacklisted then.
  const firmEvents = rows(errorFree, "firm_events");
  const listedFirms = new Map<number, number>();
  for (const e of firmEvents) listedFirms.set(e.representative as number, (listedFirms.get(e.representative as number) ?? 0) + (e.event === "enter" ? 1 : -1));
  const onEnd = new Set(rows(errorFree, "citizens").filter((c) => String(c.lists).split(",").includes("representatives")).map((c) => c.agent as number));
  for (const [rep, n] of listedFirms) assert.equal(onEnd.has(rep), n > 0, `representative ${rep}`);
  // Published: contacts drop representatives as they drop anyone blacklisted.
  assert.ok(errorFree.summary.tiesDropped > 0, "representatives on a published list are shamed");

  const clerical = run({ ...FIRMS, ...withFirmList(true), observation: { records: { clericalErrorRate: 0.3 } } }, 3);
  const wrong = rows(clerical, "list_events").filter((e) => e.list === "representatives" && e.event === "enter" && e.wrongful === true);
  assert.ok(wrong.length > 0, "a firm blacklisted by clerical errors lists its representative wrongly");
});

test("firms: a wrongly listed representative can appeal and win", () => {
  const r = run({
    ...FIRMS, ...withFirmList(false),
    observation: { records: { clericalErrorRate: 0.3 } },
    appeals: { enabled: true, fileRate: 0, fileRateWrongful: 1, stages: [{ latencyDays: 1, capacityPerMillionPerDay: 100_000, accuracy: 1 }] },
  }, 4);
  const won = rows(r, "list_events").filter((e) => e.list === "representatives" && e.reason === "appeal-won");
  assert.ok(won.length > 0, "representatives' appeals won");
});

test("metamorphic: with the lists switched off nothing is blocked and nobody is restricted, firms included", () => {
  const r = run({ ...FIRMS, ...withFirmList(true), ...MANY_ERRORS, mechanisms: { lists: false } }, 5);
  const on = run({ ...FIRMS, ...withFirmList(true), ...MANY_ERRORS }, 5);
  assert.ok(sum(Object.values(on.summary.blocked)) > 0 && listOf(on, "representatives").entries > 0, "positive control");
  assert.equal(sum(Object.values(r.summary.blocked)), 0, "blocked attempts");
  assert.equal(sum(Object.values(r.summary.granted)), 0, "granted privileges");
  assert.equal(rows(r, "list_events").length, 0, "list events");
  assert.ok(values(r, "citizens", "lists").every((l) => !l), "nobody on a list");
  assert.ok(rows(r, "firm_events").length > 0, "firms are still blacklisted, restricting nobody");
});

test("every act is ground truth: inattention the kiosks see is counted among the acts", () => {
  // Only the kiosks act here: every other behaviour has rate 0, and the kiosk is always right.
  const r = run({
    behaviours: [{ id: "inattention", class: "misconduct", ratePerYear: 0, points: -10, observedBy: ["attention"] }],
    lists: [{ id: "low-score", kind: "black", entry: { scoreBelow: 950 }, sanctions: ["flights"] }], observation: { attention: { enabled: true, accuracy: 1, inattentiveRate: 0.3 } } }, 6, 6_000, 60);
  assert.ok(r.summary.acts > 50, `inattentive sessions are acts (${r.summary.acts})`);
  assert.equal(r.summary.acts, r.summary.observations.true, "a perfect kiosk sees every inattentive session, and nothing else happened");
  assert.equal(sum(column(r, "daily", "acts_punishable")), r.summary.acts);
});

test("a value with an empty denominator is null, never 0", () => {
  // Nobody can be listed (thresholds out of reach) and appeals are on: no listing, no decision.
  const r = run({
    lists: [
      { id: "low-score", kind: "black", entry: { scoreBelow: -1 }, sanctions: ["flights"] },
      { id: "honour", kind: "red", entry: { scoreAtLeast: 1e6 }, privileges: ["deposit-waiver"] },
    ],
    appeals: { enabled: true },
  }, 7, 3_000, 30);
  const m = r.summary.metrics;
  for (const k of ["wrongful_share.low-score", "mean_days_to_clear_wrongful.low-score", "exited_share.low-score", "appeal_success_rate", "income_ratio_blacklisted", "income_ratio_redlisted", "isolation_of_listed"]) {
    assert.equal(m[k], null, k);
  }
  assert.equal(m["listed_share.low-score"], 0, "a share of everyone is defined: 0");
  assert.equal(r.summary.meanIncome.blacklisted, null);
  const summary = rows(r, "summary");
  assert.equal(summary.find((x) => x.metric === "appeal_success_rate")!.value, null, "NULL in the summary table");
});
