// Determinism and metamorphic tests of the model: change one input, predict the direction (or
// the exact absence) of the change in the output.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "../src/model/simulate.js";
import { loadScenario, reportedYear } from "../src/scenario/load.js";
import type { RunResult } from "../src/model/result.js";
import { column, countTrail, makeScenario, rows, sum, tableDifference, values, type Overrides } from "./helpers.js";

const run = (overrides: Overrides, seed = 1, population?: number, days?: number): RunResult =>
  simulate(makeScenario(overrides), { seed, population, days });

const listSummary = (r: RunResult, id: string) => {
  const l = r.summary.lists.find((x) => x.id === id);
  assert.ok(l, `no list ${id} in the summary`);
  return l;
};

// ---------------------------------------------------------------------------------------------
// Determinism

test("determinism: same scenario and seed give identical summaries and tables; another seed differs", () => {
  // A trail sample smaller than the population, so that the sampled set is part of the check.
  const s = makeScenario({ metrics: { trailSample: 1_500 }, scoring: { association: { enabled: true, pull: 0.1 } }, appeals: { enabled: true } });
  const a = simulate(s, { seed: 42, population: 6_000, days: 45 });
  const b = simulate(s, { seed: 42, population: 6_000, days: 45 });
  assert.deepEqual(a.summary, b.summary);
  assert.equal(a.tables.length, b.tables.length);
  assert.ok(a.tables.length >= 10);
  for (let t = 0; t < a.tables.length; t++) {
    assert.equal(tableDifference(a.tables[t], b.tables[t]), null);
  }
  // Not a degenerate run: things happened.
  assert.ok(a.summary.acts > 1_000 && a.summary.observations.true > 500);
  assert.ok(a.tables.find((t) => t.name === "trail")!.rows > 1_000);

  const c = simulate(s, { seed: 43, population: 6_000, days: 45 });
  assert.notEqual(c.summary.acts, a.summary.acts);
  assert.notDeepEqual(c.summary.observations, a.summary.observations);
  const scoresA = column(a, "citizens", "score"), scoresC = column(c, "citizens", "score");
  const agentsA = column(a, "citizens", "agent"), agentsC = column(c, "citizens", "agent");
  assert.ok(Array.from(scoresA).some((v, k) => v !== scoresC[k]), "scores should depend on the seed");
  assert.ok(Array.from(agentsA).some((v, k) => v !== agentsC[k]), "the trail sample should depend on the seed");
  // The scenario object is not mutated by a run.
  assert.equal(s.population.size, 5_000);
  assert.equal(s.days, 60);
});

test("determinism: population and days options override the scenario and are reported", () => {
  const r = run({}, 3, 2_000, 20);
  assert.equal(r.summary.population, 2_000);
  assert.equal(r.summary.days, 20);
  assert.equal(r.scenario.population.size, 2_000);
  assert.equal(r.summary.startDate, "2018-01-01");
  assert.equal(r.summary.endDate, "2018-01-20");
  assert.equal(column(r, "citizens", "agent").length, 2_000);
  assert.equal(column(r, "daily", "day").length, 20);
});

// ---------------------------------------------------------------------------------------------
// Observation: camera coverage

/** Only jaywalking, only cameras: observations_true counts camera hits. */
const camerasOnly = (coverageUrban: number, coverageRural: number, extra: Overrides = {}): Overrides => ({
  behaviours: [{ id: "jaywalking", class: "public", ratePerYear: 6, points: -5, observedBy: ["cameras"] }],
  lists: [],
  observation: { cameras: { coverageUrban, coverageRural }, attention: { enabled: false } },
  ...extra,
});

test("metamorphic: doubling camera coverage doubles true camera observations (deterrence off)", () => {
  const off = { mechanisms: { deterrence: false } };
  const a = run(camerasOnly(0.15, 0.05, off), 5, 20_000, 60);
  const b = run(camerasOnly(0.3, 0.1, off), 5, 20_000, 60);
  // Deterrence off: what people do does not depend on where cameras are (same draws).
  assert.equal(b.summary.acts, a.summary.acts);
  assert.ok(a.summary.acts > 15_000);
  const ratio = b.summary.observations.true / a.summary.observations.true;
  assert.ok(ratio > 1.8 && ratio < 2.2, `true observations should double, ratio ${ratio}`);
  // The trail agrees with the counters (everyone is sampled).
  assert.equal(countTrail(a, { event: "observed", channel: "cameras", kind: "true" }), a.summary.observations.true);
  assert.equal(countTrail(b, { event: "observed", channel: "cameras", kind: "true" }), b.summary.observations.true);
});

test("metamorphic: with deterrence on, doubling camera coverage lowers the true acts of camera-observed behaviour", () => {
  const on = { mechanisms: { deterrence: true }, scoring: { secrecy: "published", deterrence: 0.8, awareness: 1 } };
  const a = run(camerasOnly(0.15, 0.05, on), 5, 20_000, 60);
  const b = run(camerasOnly(0.3, 0.1, on), 5, 20_000, 60);
  const off = run(camerasOnly(0.15, 0.05, { mechanisms: { deterrence: false } }), 5, 20_000, 60);
  assert.ok(a.summary.acts < off.summary.acts * 0.97, `deterrence should lower acts: ${a.summary.acts} vs ${off.summary.acts}`);
  assert.ok(b.summary.acts < a.summary.acts * 0.95, `more cameras should deter more: ${b.summary.acts} vs ${a.summary.acts}`);
  // Still, more cameras see more in total.
  assert.ok(b.summary.observations.true > a.summary.observations.true * 1.5);
});

// ---------------------------------------------------------------------------------------------
// Due process

test("metamorphic: appeals with high capacity lower wrongful listings at the end", () => {
  const errorProne: Overrides = {
    behaviours: [
      { id: "jaywalking", class: "public", ratePerYear: 3, points: -30, observedBy: ["cameras"] },
      { id: "volunteering", class: "civic", ratePerYear: 2, points: 10, observedBy: ["records"] },
    ],
    lists: [{ id: "low-score", kind: "black", entry: { scoreBelow: 950 }, sanctions: ["flights"] }],
    observation: {
      cameras: { coverageUrban: 0.6, coverageRural: 0.4, trueMatchRate: 0.6, falseMatchRate: 0.35 },
      attention: { enabled: false },
    },
  };
  const withAppeals = (enabled: boolean, master = true): Overrides => ({
    ...errorProne,
    mechanisms: { appeals: master },
    appeals: {
      enabled, fileRate: 0.2, fileRateWrongful: 1,
      stages: [{ latencyDays: 3, capacityPerMillionPerDay: 100_000, accuracy: 0.95, escalate: 0 }],
    },
  });
  const none = run(withAppeals(false), 11, 10_000, 90);
  const some = run(withAppeals(true), 11, 10_000, 90);
  const w0 = listSummary(none, "low-score").wrongfulEnd;
  const w1 = listSummary(some, "low-score").wrongfulEnd;
  assert.ok(w0 >= 30, `the scenario should list people wrongly without appeals (got ${w0})`);
  assert.ok(w1 < w0 * 0.5, `appeals should clear most wrongful listings: ${w1} vs ${w0}`);
  assert.equal(none.summary.appeals.filed, 0);
  assert.ok(some.summary.appeals.filed > 0 && some.summary.appeals.wonWrongful > 0);
  assert.ok(some.summary.appeals.wonWrongful <= some.summary.appeals.won);
  // Appeal exits are in the list log with their reason.
  const reasons = values(some, "list_events", "reason");
  assert.equal(reasons.filter((x) => x === "appeal-won").length, some.summary.appeals.won);
  // The master switch off is the same as appeals disabled.
  const masterOff = run(withAppeals(true, false), 11, 10_000, 90);
  assert.deepEqual(masterOff.summary.lists, none.summary.lists);
  assert.equal(masterOff.summary.appeals.filed, 0);
});

// ---------------------------------------------------------------------------------------------
// Shaming

test("metamorphic: shaming off drops no ties; on, listed people lose ties", () => {
  const on = run({ shaming: { enabled: true } }, 2, 8_000, 60);
  const off = run({ shaming: { enabled: false } }, 2, 8_000, 60);
  const masterOff = run({ mechanisms: { shaming: false } }, 2, 8_000, 60);
  assert.ok(on.summary.tiesDropped > 0, "positive control: shaming drops ties");
  assert.ok(on.summary.isolationOfListed! > 0);
  for (const r of [off, masterOff]) {
    assert.equal(r.summary.tiesDropped, 0);
    assert.equal(sum(column(r, "daily", "ties_dropped")), 0);
    assert.equal(r.summary.isolationOfListed, 0);
    assert.equal(countTrail(r, { event: "tie-dropped" }), 0);
    const f0 = column(r, "citizens", "friends_initial"), f1 = column(r, "citizens", "friends_final");
    for (let k = 0; k < f0.length; k++) assert.equal(f1[k], f0[k]);
  }
});

test("the stocks of the listed, kept as people enter, leave, change income and lose ties, equal a recount of everyone at the end", () => {
  // Exits (a short act listing, recovered and fallen scores), income effects and tie drops on
  // entry and while listed: every way a stock of the listed moves.
  const r = run({
    shaming: { enabled: true, dropPerYearWhileListed: 1 },
    lists: [
      { id: "low-score", kind: "black", entry: { scoreBelow: 950 }, published: true, sanctions: ["flights", "jobs"] },
      { id: "debtors", kind: "black", entry: { acts: ["court-default"] }, durationDays: 20, sanctions: ["trains"] },
      { id: "honour", kind: "red", entry: { scoreAtLeast: 1010 }, privileges: ["deposit-waiver"] },
    ],
  }, 3, 6_000, 90);
  assert.ok(r.summary.lists.every((l) => l.exits > 0), "positive control: people leave every list");
  assert.ok(r.summary.tiesDropped > 0, "positive control: ties are dropped");
  const lists = values(r, "citizens", "lists").map((v) => String(v).split(",").filter(Boolean));
  const income = column(r, "citizens", "income"), alive = column(r, "citizens", "friends_final"), initial = column(r, "citizens", "friends_initial");
  const black = lists.map((l) => l.some((id) => id !== "honour")), red = lists.map((l) => l.includes("honour"));
  const pick = (on: boolean[], xs: ArrayLike<number>) => sum(Array.from(xs).filter((_, k) => on[k]));
  const last = rows(r, "daily").at(-1)!;
  assert.equal(last.day, 89);
  assert.equal(last.blacklisted, black.filter(Boolean).length);
  assert.equal(last.blacklisted_ties_alive, pick(black, alive));
  assert.equal(last.blacklisted_ties_initial, pick(black, initial));
  assert.equal(last.redlisted, red.filter(Boolean).length);
  assert.ok(Math.abs((last.blacklisted_income_sum as number) - pick(black, income)) < 1e-6);
  assert.ok(Math.abs((last.redlisted_income_sum as number) - pick(red, income)) < 1e-6);
  assert.ok(pick(black, alive) < pick(black, initial), "the blacklisted have lost ties");
});

test("firms: the daily counts by grade and of the blacklisted, kept as scores move, equal a recount of the final scores", () => {
  // china-2018's firms: acts daily and a recovery every 30 days move scores, the recovery made
  // large enough to lift firms off the blacklist; the blacklist line (40) is grade D's.
  // Graded as it goes (china-2018 grades yearly), so that a recovery shows on its day.
  const s = reportedYear(loadScenario(new URL("../../scenarios/china-2018.yaml", import.meta.url).pathname));
  s.firms.recoveryPerYear = 120;
  s.firms.assessment = "running";
  const r = simulate(s, { seed: 2, population: 40_000, days: 95 });
  const firms = Math.round(s.firms.perCitizen * 40_000);
  const last = rows(r, "daily").at(-1)!;
  const recount = (grade: string) => Math.round(r.summary.metrics[`firm_grade_share.${grade}`]! * firms);
  for (const g of s.firms.grades) assert.equal(last[`firms_grade_${g.name}`], recount(g.name), `grade ${g.name}`);
  assert.equal(s.firms.blacklistBelow, s.firms.grades.find((g) => g.name === "C")!.min);
  assert.equal(last.firms_blacklisted, recount("D"));
  const listed = column(r, "daily", "firms_blacklisted");
  assert.ok([30, 60, 90].some((d) => listed[d] < listed[d - 1]), "positive control: a recovery lifted firms off the blacklist");
});

// ---------------------------------------------------------------------------------------------
// Secrecy and chilling

test("metamorphic: secret rules chill speech more than published ones; chilling off leaves speech unchilled", () => {
  const base: Overrides = { mechanisms: { chilling: true }, observation: { online: { coverage: 0.6 } } };
  const secret = run({ ...base, scoring: { secrecy: "secret" } }, 4, 20_000, 60);
  const published = run({ ...base, scoring: { secrecy: "published" } }, 4, 20_000, 60);
  const noChill = run({ mechanisms: { chilling: false }, observation: { online: { coverage: 0.6 } } }, 4, 20_000, 60);
  assert.ok(published.summary.chilling! > 0.03, `published rules still chill punished speech (${published.summary.chilling!})`);
  assert.ok(secret.summary.chilling! > published.summary.chilling! + 0.02,
    `secret ${secret.summary.chilling!} should chill more than published ${published.summary.chilling!}`);
  assert.ok(Math.abs(noChill.summary.chilling!) < 0.04, `no chilling mechanism: chilling ${noChill.summary.chilling!}`);
});

test("metamorphic: secret rules deter punished acts less than published ones", () => {
  const base: Overrides = { mechanisms: { chilling: false }, observation: { cameras: { coverageUrban: 0.6, coverageRural: 0.3 } } };
  const secret = run({ ...base, scoring: { secrecy: "secret" } }, 4, 20_000, 60);
  const published = run({ ...base, scoring: { secrecy: "published" } }, 4, 20_000, 60);
  const acts = (r: RunResult) => sum(column(r, "daily", "acts_punishable"));
  assert.ok(acts(secret) > acts(published) * 1.03, `punishable acts: secret ${acts(secret)}, published ${acts(published)}`);
});

// ---------------------------------------------------------------------------------------------
// Sanctions and income

test("metamorphic: a job ban with a large income effect makes the blacklisted poorer (income feedback)", () => {
  const jobBan = (feedback: boolean): Overrides => ({
    lists: [{ id: "low-score", kind: "black", entry: { scoreBelow: 980 }, sanctions: ["jobs"] }],
    consequences: { sanctions: { jobs: { attemptsPerYear: 0.3, incomeEffect: -0.8 } } },
    mechanisms: { incomeFeedback: feedback },
  });
  const on = run(jobBan(true), 6, 10_000, 60);
  const off = run(jobBan(false), 6, 10_000, 60);
  const l = listSummary(on, "low-score");
  assert.ok(l.onListEnd > 50, `people should be blacklisted (${l.onListEnd})`);
  assert.ok(on.summary.meanIncome.blacklisted! < on.summary.meanIncome.unlisted! * 0.5,
    `blacklisted ${on.summary.meanIncome.blacklisted!} vs unlisted ${on.summary.meanIncome.unlisted!}`);
  const ratioOn = on.summary.meanIncome.blacklisted! / on.summary.meanIncome.unlisted!;
  const ratioOff = off.summary.meanIncome.blacklisted! / off.summary.meanIncome.unlisted!;
  assert.ok(ratioOn < ratioOff * 0.4, `income ratio with feedback ${ratioOn}, without ${ratioOff}`);
  // Per citizen: everyone on the job-ban list ends at (about) a fifth of what they would earn off it.
  const lists = values(on, "citizens", "lists"), incOn = column(on, "citizens", "income"), incOff = column(off, "citizens", "income");
  const listsOff = values(off, "citizens", "lists");
  let checked = 0;
  for (let k = 0; k < lists.length; k++) {
    if (lists[k] === "low-score" && listsOff[k] === "low-score") {
      assert.ok(Math.abs(incOn[k] - 0.2 * incOff[k]) <= 1e-3 * incOff[k], `citizen row ${k}: ${incOn[k]} vs 0.2 x ${incOff[k]}`);
      checked++;
    }
  }
  assert.ok(checked > 10);
});

// ---------------------------------------------------------------------------------------------
// Lists: entry by act, and the ways off

interface ListEvent { day: number; agent: number; list: string; event: string; reason: string; wrongful: boolean; days: number }
function listEvents(r: RunResult): ListEvent[] {
  const day = column(r, "list_events", "day"), agent = column(r, "list_events", "agent"), days = column(r, "list_events", "days_on_list");
  const list = values(r, "list_events", "list"), event = values(r, "list_events", "event"), reason = values(r, "list_events", "reason");
  const wrongful = values(r, "list_events", "wrongful");
  return Array.from({ length: day.length }, (_, k) => ({
    day: day[k], agent: agent[k], list: String(list[k]), event: String(event[k]), reason: String(reason[k]), wrongful: wrongful[k] === true, days: days[k],
  }));
}

interface TrailRow { agent: number; day: number; event: string; behaviour: string | null; channel: string | null; kind: string | null; detail: string | null }
function trailRows(r: RunResult, event?: string): TrailRow[] {
  const agent = column(r, "trail", "agent"), day = column(r, "trail", "day");
  const ev = values(r, "trail", "event"), beh = values(r, "trail", "behaviour"), ch = values(r, "trail", "channel");
  const kind = values(r, "trail", "kind"), detail = values(r, "trail", "detail");
  const out: TrailRow[] = [];
  for (let k = 0; k < agent.length; k++) {
    if (event && ev[k] !== event) continue;
    out.push({ agent: agent[k], day: day[k], event: String(ev[k]), behaviour: beh[k] as string | null, channel: ch[k] as string | null, kind: kind[k] as string | null, detail: detail[k] as string | null });
  }
  return out;
}

test("act-based list: every observed court default lists the person that day, with reason act", () => {
  const r = run({}, 8, 6_000, 90);
  const debtorEntries = listEvents(r).filter((e) => e.list === "debtors");
  assert.ok(debtorEntries.length > 30, `debtors listed: ${debtorEntries.length}`);
  assert.ok(debtorEntries.every((e) => e.event === "enter" && e.reason === "act"), "no exits (no payment, no duration) and only act entries");
  // First court-default observation of each citizen (everyone is in the trail).
  const firstSeen = new Map<number, { day: number; kinds: string[] }>();
  for (const o of trailRows(r, "observed")) {
    if (o.behaviour !== "court-default") continue;
    const f = firstSeen.get(o.agent);
    if (!f) firstSeen.set(o.agent, { day: o.day, kinds: [o.kind!] });
    else if (f.day === o.day) f.kinds.push(o.kind!);
  }
  assert.equal(debtorEntries.length, firstSeen.size, "one entry per citizen observed defaulting");
  for (const e of debtorEntries) {
    const f = firstSeen.get(e.agent);
    assert.ok(f, `citizen ${e.agent} listed without an observed default`);
    assert.equal(e.day, f.day, `citizen ${e.agent} listed on day ${e.day}, first observed on ${f.day}`);
    if (f.kinds.length === 1) assert.equal(e.wrongful, f.kinds[0] !== "true", `wrongful flag of citizen ${e.agent}`);
  }
  // The citizens table agrees: everyone observed defaulting is on the list at the end.
  const agents = column(r, "citizens", "agent"), lists = values(r, "citizens", "lists");
  for (let k = 0; k < agents.length; k++) {
    const on = String(lists[k]).split(",").includes("debtors");
    assert.equal(on, firstSeen.has(agents[k]), `citizen ${agents[k]}`);
  }
  // Lists switched off: nobody is listed.
  const noLists = run({ mechanisms: { lists: false } }, 8, 6_000, 90);
  assert.equal(listEvents(noLists).length, 0);
  assert.equal(sum(Object.values(noLists.summary.blocked)), 0);
});

test("paymentExit: act-listed people pay and leave, no sooner than delayDays after paying", () => {
  const r = run({
    lists: [{ id: "debtors", kind: "black", entry: { acts: ["court-default"] }, paymentExit: { enabled: true, perYear: 12, delayDays: 5 }, sanctions: ["flights"] }],
    behaviours: [{ id: "court-default", class: "financial", ratePerYear: 1, points: 0, observedBy: ["records"] }],
    observation: { attention: { enabled: false } },
  }, 9, 6_000, 90);
  const ev = listEvents(r);
  const exits = ev.filter((e) => e.event === "exit");
  const payment = exits.filter((e) => e.reason === "payment");
  assert.ok(payment.length > 20, `payment exits: ${payment.length}`);
  assert.ok(exits.every((e) => e.reason === "payment"), "no other exits without duration or appeals");
  assert.ok(payment.every((e) => e.days >= 5), "leaving comes at least delayDays after paying");
  const l = listSummary(r, "debtors");
  assert.equal(l.exits, exits.length);
  assert.equal(l.entries, ev.filter((e) => e.event === "enter").length);
  assert.equal(l.everListed, new Set(ev.filter((e) => e.event === "enter").map((e) => e.agent)).size, "people, not entries");
  assert.equal(l.onListEnd, l.entries - l.exits);
});

test("durationDays: act listings end after exactly durationDays, by reason duration", () => {
  const r = run({
    lists: [{ id: "debtors", kind: "black", entry: { acts: ["court-default"] }, durationDays: 10, sanctions: ["flights"] }],
    behaviours: [{ id: "court-default", class: "financial", ratePerYear: 1, points: 0, observedBy: ["records"] }],
    observation: { attention: { enabled: false } },
  }, 9, 6_000, 60);
  const ev = listEvents(r);
  const exits = ev.filter((e) => e.event === "exit");
  assert.ok(exits.length > 20, `duration exits: ${exits.length}`);
  for (const e of exits) {
    assert.equal(e.reason, "duration");
    assert.equal(e.days, 10);
  }
  // Everyone listed before day 50 has left by the end; nobody listed after day 49 has.
  const entries = ev.filter((e) => e.event === "enter");
  assert.equal(exits.length, entries.filter((e) => e.day + 10 <= 59).length);
});

// ---------------------------------------------------------------------------------------------
// Consequences go only to the listed

test("sanctions block and privileges grant only for people on the lists that carry them", () => {
  const r = run({}, 10, 6_000, 90);
  const b = r.summary.blocked, g = r.summary.granted;
  assert.ok(b.flights > 0 && b.hotels > 0, "positive control: blocked flights and hotels");
  assert.ok(g["transit-discount"] > 0, "positive control: granted transit discounts");
  // Sanctions and privileges that no list carries never happen.
  for (const k of ["property", "private-schools", "loans", "social-media", "internet", "deposits"]) assert.equal(b[k], 0, k);
  for (const k of ["vip-airport", "loan-discount", "energy-discount", "job-priority", "fast-visa", "dating-visibility"]) assert.equal(g[k], 0, k);

  // Reconstruct who is on which list on which day: [enter day, exit day).
  const carries: Record<string, string[]> = {
    "low-score": ["flights", "trains", "jobs"], debtors: ["flights", "hotels"], honour: ["deposit-waiver", "transit-discount"],
  };
  const spells = new Map<number, { list: string; from: number; to: number }[]>();
  const open = new Map<string, number>();
  for (const e of listEvents(r)) {
    const key = `${e.agent}:${e.list}`;
    if (e.event === "enter") { assert.ok(!open.has(key), `double entry ${key}`); open.set(key, e.day); continue; }
    const from = open.get(key);
    assert.ok(from !== undefined, `exit without entry ${key}`);
    open.delete(key);
    if (!spells.has(e.agent)) spells.set(e.agent, []);
    spells.get(e.agent)!.push({ list: e.list, from, to: e.day });
  }
  for (const [key, from] of open) {
    const [agent, list] = key.split(":");
    if (!spells.has(Number(agent))) spells.set(Number(agent), []);
    spells.get(Number(agent))!.push({ list, from, to: Infinity });
  }
  const covered = (agent: number, day: number, what: string) =>
    (spells.get(agent) ?? []).some((sp) => sp.from <= day && day < sp.to && carries[sp.list].includes(what));

  let blocked = 0, granted = 0;
  for (const t of trailRows(r)) {
    if (t.event !== "blocked" && t.event !== "granted") continue;
    assert.ok(t.detail && covered(t.agent, t.day, t.detail),
      `citizen ${t.agent} ${t.event} ${t.detail} on day ${t.day} without a list carrying it`);
    if (t.event === "blocked") blocked++; else granted++;
  }
  // Everyone is in the trail, so the trail accounts for every blocked and granted attempt.
  assert.equal(blocked, sum(Object.values(b)));
  assert.equal(granted, sum(Object.values(g)));

  // Sanctions and privileges switched off: nothing blocked, nothing granted, listings unchanged.
  const off = run({ mechanisms: { sanctions: false, privileges: false } }, 10, 6_000, 90);
  assert.equal(sum(Object.values(off.summary.blocked)), 0);
  assert.equal(sum(Object.values(off.summary.granted)), 0);
  assert.ok(listSummary(off, "low-score").everListed > 0);
});

// ---------------------------------------------------------------------------------------------
// Association

test("association: charges flow to household and friends and are counted as association points", () => {
  const on = run({ scoring: { association: { enabled: true, householdShare: 0.2, friendShare: 0.1 } } }, 12, 5_000, 60);
  const a = on.summary.association;
  assert.ok(a.charges > 0 && a.points > 0);
  assert.ok(a.shareOfPenaltyPoints! > 0 && a.shareOfPenaltyPoints! < 1);
  // Trail association rows name another citizen as the source and carry a household or friend detail.
  const other = column(on, "trail", "other"), ev = values(on, "trail", "event"), detail = values(on, "trail", "detail");
  const agent = column(on, "trail", "agent"), points = column(on, "trail", "points");
  let n = 0, pts = 0;
  for (let k = 0; k < ev.length; k++) {
    if (ev[k] !== "association") continue;
    n++;
    pts += points[k];
    assert.ok(other[k] >= 0 && other[k] !== agent[k]);
    assert.ok(detail[k] === "household" || detail[k] === "friend");
  }
  assert.ok(n > 0);
  assert.ok(Math.abs(-pts - a.points) < 1e-6 * Math.max(1, a.points), `trail association points ${-pts} vs summary ${a.points}`);
});

test("trail: listings carry their ground truth, and a dropped tie says who dropped whom", () => {
  // Everyone is sampled (population below trailSample), so the trail and list_events cover the same listings.
  const r = run({ observation: { cameras: { trueMatchRate: 0.6, falseMatchRate: 0.3 } }, shaming: { enabled: true, dropOnPublishedListing: 0.5, dropOnListing: 0.5 } }, 4, 6_000, 90);
  const trail = rows(r, "trail");
  const entries = rows(r, "list_events").filter((e) => e.event === "enter");
  const listed = trail.filter((t) => t.event === "listed");
  assert.equal(listed.length, entries.length);
  assert.ok(entries.some((e) => e.wrongful === true) && entries.some((e) => e.wrongful === false), "both kinds of listing occur");
  const key = (agent: unknown, day: unknown, list: unknown) => `${agent}/${day}/${list}`;
  const truth = new Map(entries.map((e) => [key(e.agent, e.day, e.list), e.wrongful ? 1 : 0]));
  for (const t of listed) assert.equal(t.wrongful, truth.get(key(t.agent, t.day, t.list)));
  // Ties are dropped from a listed person: their row says dropped-by-contact, the friend's says dropped-contact.
  const drops = trail.filter((t) => t.event === "tie-dropped");
  assert.ok(drops.length > 0);
  const listedAgents = new Set(entries.map((e) => e.agent));
  for (const d of drops) {
    if (d.detail === "dropped-by-contact") assert.ok(listedAgents.has(d.agent), `#${d.agent} was dropped but never listed`);
    else assert.equal(d.detail, "dropped-contact");
  }
  assert.equal(drops.filter((d) => d.detail === "dropped-by-contact").length, drops.filter((d) => d.detail === "dropped-contact").length);
});

test("two mechanisms cannot declare the same state column", async () => {
  const { allColumns, stateColumn } = await import("../src/model/state-columns.js");
  const { ANY } = await import("../src/engine/checkpoint.js");
  const column = stateColumn(Uint8Array, { valid: () => ANY });
  assert.deepEqual(Object.keys(allColumns({ a: column }, { b: column })), ["a", "b"]);
  assert.throws(() => allColumns({ a: column }, { a: column }), /state column a is declared by two mechanisms/);
});
