// A run through time: the timeline's changes take effect on their day, in every thread count,
// and across a checkpoint. (The timeline's schema and its pure functions: timeline.test.ts.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { simulate } from "../src/model/simulate.js";
import { SimulationStopped } from "../src/engine/checkpoint.js";
import { loadScenario, parseScenario, reportedYear } from "../src/scenario/load.js";
import type { Scenario } from "../src/scenario/schema.js";
import { columnOf, deepMerge, difference } from "./helpers.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const KEY = new Uint8Array(32).fill(7);
const china = () => reportedYear(loadScenario(join(root, "scenarios/china-2018.yaml")));

/** china-2018 with a timeline of every kind of change: a ramp, a set, a sanction removed, a mechanism switched off. */
function withTimeline(): Scenario {
  return parseScenario({
    ...china(),
    timeline: [
      { from: "2018-01-05", to: "2018-01-25", path: "behaviours.judgment-default.ratePerYear", ramp: [0.008, 0.06] },
      { date: "2018-01-11", path: "observation.cameras.coverageUrban", set: 0.5 },
      { date: "2018-01-15", path: "lists.low-score.sanctions", remove: "flights" },
      { date: "2018-01-20", path: "mechanisms.association", set: false },
    ],
  }, "timeline test");
}

const OPTS = { seed: 5, population: 20_000, days: 40 };

test("a run with a timeline is the same on 1, 2 and 3 threads", { timeout: 300_000 }, () => {
  const s = withTimeline();
  const one = simulate(s, { ...OPTS, threads: 1 });
  for (const threads of [2, 3]) assert.equal(difference(one, simulate(s, { ...OPTS, threads })), null, `${threads} threads`);
});

test("a run resumed across a timeline's changes (inside a ramp, after a set) is the run never interrupted", { timeout: 300_000 }, () => {
  const s = withTimeline();
  const plain = simulate(s, { ...OPTS, threads: 2 });
  for (const stopAt of [9, 12, 21]) {
    let checkpoint: Uint8Array | undefined;
    let day = 0;
    assert.throws(() => simulate(s, {
      ...OPTS, threads: 2, checkpointKey: KEY,
      checkpoint: { everyDays: 1, write: (bytes, d) => { if (d === stopAt) checkpoint = bytes; } },
      onProgress: (p) => { day = p.day; },
      shouldStop: () => day >= stopAt,
    }), SimulationStopped);
    const resumed = simulate(s, { ...OPTS, threads: 3, checkpointKey: KEY, resume: checkpoint! });
    assert.equal(difference(plain, resumed), null, `stopped after day ${stopAt}`);
  }
});

test("a change set on the first day is the scenario edited; days before a change are the run without it", { timeout: 300_000 }, () => {
  const base = china();
  const edited = parseScenario(deepMerge(base, { behaviours: base.behaviours.map((b) => (b.id === "judgment-default" ? { ...b, ratePerYear: 3 } : b)) }), "edited");
  const onDayZero = parseScenario({ ...base, timeline: [{ date: base.startDate, path: "behaviours.judgment-default.ratePerYear", set: 3 }] }, "set on day 0");
  // Rates above the base's: the hazard bounds must cover every scenario in force, or acts go missing.
  // (The behaviours table describes the scenario as given, before its timeline.)
  const results = [simulate(edited, OPTS), simulate(onDayZero, OPTS)].map((r) => ({ ...r, tables: r.tables.filter((t) => t.name !== "behaviours") }));
  assert.equal(difference(results[0], results[1]), null);

  const later = parseScenario({ ...base, timeline: [{ date: "2018-01-21", path: "observation.cameras.coverageUrban", set: 0.9 }] }, "set on day 20");
  const a = simulate(base, OPTS), b = simulate(later, OPTS);
  const obsA = columnOf(a, "daily", "observations_true").data, obsB = columnOf(b, "daily", "observations_true").data;
  for (let d = 0; d < 20; d++) assert.equal(obsB[d], obsA[d], `day ${d} is before the change`);
  let before = 0, after = 0;
  for (let d = 20; d < 40; d++) { before += Number(obsA[d]); after += Number(obsB[d]); }
  assert.ok(after > before * 1.05, `wider camera coverage from day 20 records more (${after} against ${before})`);
});

test("a sanction removed from a list blocks nothing from its day on, for those already listed too", { timeout: 300_000 }, () => {
  const base = china();
  // Only low-score bans flights, and people try often: blocks are many while the ban lasts.
  const often = deepMerge(base, {
    consequences: { sanctions: { flights: { attemptsPerYear: 300 } } },
    lists: base.lists.map((l) => ({ ...l, sanctions: l.id === "low-score" ? [...l.sanctions, "flights"] : l.sanctions.filter((k) => k !== "flights") })),
  }) as Scenario;
  const s = parseScenario({ ...often, timeline: [{ date: "2018-01-21", path: "lists.low-score.sanctions", remove: "flights" }] }, "ban lifted on day 20");
  const blocked = columnOf(simulate(s, { ...OPTS, population: 60_000 }), "daily", "blocked_flights").data;
  let afterwards = 0, before = 0;
  for (let d = 0; d < 40; d++) (d >= 20 ? (afterwards += Number(blocked[d])) : (before += Number(blocked[d])));
  assert.ok(before > 50, `the ban blocked flights before it was lifted (${before})`);
  assert.equal(afterwards, 0, "and none after");
});

test("a warm-up is simulated but not reported: the daily tables and the summary's counts start at reportFrom", { timeout: 300_000 }, () => {
  const base = china();
  const full = simulate(base, OPTS);
  const warm = simulate(parseScenario({ ...base, reportFrom: "2018-01-21" }, "reported from day 20"), OPTS);
  const first = 20;
  const day = columnOf(warm, "daily", "day").data;
  assert.equal(warm.tables.find((t) => t.name === "daily")!.rows, 40 - first);
  assert.equal(day[0], first);
  // The same simulation: the reported rows are the full run's from day 20 on.
  const a = columnOf(full, "daily", "entries_low_score").data, b = columnOf(warm, "daily", "entries_low_score").data;
  let entries = 0;
  for (let d = first; d < 40; d++) {
    assert.equal(b[d - first], a[d], `day ${d}`);
    entries += Number(a[d]);
  }
  const list = (r: typeof full) => r.summary.lists.find((l) => l.id === "low-score")!;
  assert.equal(list(warm).entries, entries, "entries counted over the reported days");
  assert.equal(list(warm).onListEnd, list(full).onListEnd, "stocks at the end are the run's");
  assert.ok(list(warm).everListed <= list(full).everListed && list(warm).everListed >= list(warm).onListEnd);
  assert.equal(warm.summary.startDate, "2018-01-21");
  const years = (40 - first) / 365;
  assert.ok(Math.abs(warm.summary.metrics["entries_per_capita.low-score"]! - entries / OPTS.population / years) < 1e-12, "yearly rates over the reported days");
});

test("a run cut shorter than its warm-up reports every day it has (rather than none)", () => {
  const s = parseScenario({ ...china(), reportFrom: "2018-01-21" }, "warm");
  const r = simulate(s, { ...OPTS, days: 15 });
  assert.equal(r.summary.startDate, "2018-01-01");
  assert.equal(columnOf(r, "daily", "entries_low_score").data.length, 15);
});

test("a warm-up date outside the run is refused, naming the field", () => {
  assert.throws(() => parseScenario({ ...china(), reportFrom: "2019-06-01" }, "x"), /reportFrom: found 2019-06-01, expected a date inside the run/);
});

test("checks are judged beside the run like targets, named in errors as checks, and left out of the fit", () => {
  const base = china();
  assert.throws(() => parseScenario({ ...base, checks: [{ metric: "no_such_column", at: "2018-01-10", value: 1 }] }, "x"), /checks\[0\]\.metric: found "no_such_column", expected a column of the daily table/);
  const s = parseScenario({ ...base, checks: [{ metric: "entries_low_score", at: "2018-01-20", value: 1e-4, tolerance: 100 }] }, "with a check");
  const r = simulate(s, { ...OPTS, days: 30 });
  // A run too short for a check leaves it out rather than refusing to run.
  assert.deepEqual(simulate(s, { ...OPTS, days: 15 }).summary.checks, []);
  const entries = columnOf(r, "daily", "entries_low_score").data;
  let upTo = 0;
  for (let d = 0; d <= 19; d++) upTo += Number(entries[d]);
  assert.deepEqual(r.summary.checks.map((c) => [c.metric, c.simulated]), [["entries_low_score@2018-01-20", upTo / OPTS.population]]);
  assert.equal(r.summary.targets.length, base.targets.length, "a check is not a target");
});

test("yearly firm assessment: the year just ended decides on 1 January who is blacklisted for the next, and the new year starts clean", { timeout: 300_000 }, () => {
  // china-2018's firms from 2017-12-20: a short first year, then all of 2018 and a little of 2019.
  const s = parseScenario(deepMerge(china(), { startDate: "2017-12-20", firms: { assessment: "yearly" } }), "yearly firms");
  const opts = { seed: 3, population: 20_000, threads: 2 };
  const firms = Math.round(s.firms.perCitizen * opts.population);
  const NEW_YEARS = [12, 377]; // 2018-01-01 and 2019-01-01
  const full = simulate(s, { ...opts, days: 390 });
  const [day, entered] = [columnOf(full, "firm_events", "day").data, columnOf(full, "firm_events", "event").data];
  assert.deepEqual([...new Set(Array.from(day, Number))], NEW_YEARS, "firms join and leave the blacklist only on 1 January");
  // Each 1 January blacklists as many firms as ended the year below the line (grade D's): a run stopped on 31 December shows them.
  assert.equal(s.firms.blacklistBelow, s.firms.grades.find((g) => g.name === "C")!.min);
  let listed = 0;
  for (const newYear of NEW_YEARS) {
    for (let r = 0; r < day.length; r++) if (Number(day[r]) === newYear) listed += Number(entered[r]) ? 1 : -1;
    const failed = Math.round(simulate(s, { ...opts, days: newYear }).summary.metrics["firm_grade_share.D"]! * firms);
    assert.ok(failed >= (newYear > 100 ? 10 : 1), `firms fail the year before day ${newYear} (${failed})`);
    assert.equal(listed, failed, `firms blacklisted on day ${newYear}`);
  }
  // The year's record does not carry over: on 1 January scores are back at the start (grade B).
  assert.equal(s.firms.initial, 80);
  const onNewYear = simulate(s, { ...opts, days: 378 }).summary.metrics["firm_grade_share.B"]!;
  assert.ok(onNewYear > 0.9, `most firms are back in grade B the day after (${onNewYear})`);
});

test("a checkpoint taken after a timeline deepened a sanction's income effect resumes (incomes are checked against every scenario in force)", { timeout: 300_000 }, () => {
  const base = china();
  const s = parseScenario({ ...base, timeline: [{ date: "2018-01-06", path: "consequences.sanctions.jobs.incomeEffect", set: -0.9 }] }, "job ban deepened on day 5");
  let checkpoint: Uint8Array | undefined;
  let day = 0;
  assert.throws(() => simulate(s, {
    ...OPTS, checkpointKey: KEY,
    checkpoint: { everyDays: 30, write: (bytes) => { checkpoint = bytes; } },
    onProgress: (p) => { day = p.day; },
    shouldStop: () => day >= 30,
  }), SimulationStopped);
  const plain = simulate(s, OPTS);
  const resumed = simulate(s, { ...OPTS, checkpointKey: KEY, resume: checkpoint! });
  assert.equal(difference(plain, resumed), null);
});
