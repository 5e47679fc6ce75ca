// Policy timelines: validation names the entry, extends: merges, and scenarioOn/changeDays say
// what the scenario is on each day.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { stringify } from "yaml";
import { loadScenario, parseScenario, ScenarioError, type Problem, reportedYear } from "../src/scenario/load.js";
import { canonicalJson, scenarioHash } from "../src/scenario/hash.js";
import { changeDays, scenarioOn } from "../src/scenario/timeline.js";
import { baseInput, makeScenario } from "./helpers.js";

const root = new URL("../..", import.meta.url).pathname;

// The test scenario runs 60 days from 2018-01-01: day 0 is 2018-01-01, day 59 is 2018-03-01.
const withTimeline = (timeline: unknown[]) => makeScenario({ timeline });

function problemsOf(timeline: unknown[]): Problem[] {
  try {
    withTimeline(timeline);
  } catch (e) {
    assert.ok(e instanceof ScenarioError, String(e));
    return e.problems;
  }
  assert.fail("the timeline should be refused");
}

const problemAt = (problems: Problem[], path: string): Problem => {
  const p = problems.find((x) => x.path === path);
  assert.ok(p, `no problem at ${path}; got ${JSON.stringify(problems)}`);
  return p;
};

test("a timeline entry with an unknown path is refused naming the entry and the missing element", () => {
  const problems = problemsOf([
    { date: "2018-01-05", path: "mechanisms.appeals", set: false },
    { date: "2018-01-10", path: "lists.no-such-list.published", set: true },
  ]);
  assert.equal(problems.length, 1);
  const p = problemAt(problems, "timeline[1].path");
  assert.match(p.found, /no-such-list/);
  assert.match(p.expected, /no element with id "no-such-list" in lists/);
  assert.match(problemAt(problemsOf([{ date: "2018-01-05", path: "scoring.nothing", set: 1 }]), "timeline[0].path").expected, /no field "nothing" in scoring/);
});

test("a date outside the run, or a ramp that ends before it starts, is refused naming the entry", () => {
  const after = problemAt(problemsOf([{ date: "2018-03-02", path: "mechanisms.appeals", set: false }]), "timeline[0].date");
  assert.equal(after.found, "2018-03-02");
  assert.match(after.expected, /inside the run, 2018-01-01 to 2018-03-01/);
  problemAt(problemsOf([{ date: "2017-12-31", path: "mechanisms.appeals", set: false }]), "timeline[0].date");
  problemAt(problemsOf([{ from: "2018-01-01", to: "2019-01-01", path: "scoring.awareness", ramp: [0.1, 0.9] }]), "timeline[0].to");
  problemAt(problemsOf([{ from: "2018-02-01", to: "2018-01-15", path: "scoring.awareness", ramp: [0.1, 0.9] }]), "timeline[0].to");
  // The last day itself is inside.
  withTimeline([{ date: "2018-03-01", path: "mechanisms.appeals", set: false }]);
});

test("a value the field does not accept is refused with the field's own message, also mid-ramp and for add", () => {
  const tooBig = problemAt(problemsOf([{ date: "2018-01-05", path: "observation.cameras.coverageUrban", set: 1.5 }]), "timeline[0].set");
  assert.equal(tooBig.found, "1.5");
  assert.equal(tooBig.expected, "a value <= 1");
  problemAt(problemsOf([{ date: "2018-01-05", path: "mechanisms.appeals", set: "yes" }]), "timeline[0].set");
  // An integer field ramped in steps that are not whole: caught on the ramp's first moving day.
  const ramp = problemAt(problemsOf([{ from: "2018-01-01", to: "2018-01-08", path: "lists.low-score.minDays", ramp: [0, 10] }]), "timeline[0].ramp");
  assert.match(ramp.found, /on 2018-01-02/);
  withTimeline([{ from: "2018-01-01", to: "2018-01-11", path: "lists.low-score.minDays", ramp: [0, 10] }]);
  // A ramp's end out of range, though its start and first steps are in it.
  const end = problemAt(problemsOf([{ from: "2018-01-01", to: "2018-01-31", path: "scoring.awareness", ramp: [0.1, 1.5] }]), "timeline[0].ramp");
  assert.equal(end.found, "1.5 on 2018-01-31");
  problemAt(problemsOf([{ date: "2018-01-05", path: "lists.debtors.sanctions", add: "flight" }]), "timeline[0].add");
  // A ramp needs a number; add needs a list of names.
  assert.match(problemAt(problemsOf([{ from: "2018-01-01", to: "2018-01-08", path: "mechanisms.appeals", ramp: [0, 1] }]), "timeline[0].path").expected, /number/);
  assert.match(problemAt(problemsOf([{ date: "2018-01-05", path: "scoring.awareness", add: "flights" }]), "timeline[0].path").expected, /list of names/);
});

test("the scenario in force is validated where entries combine: the cross-field rule names the entry that broke it", () => {
  // Each value is in range alone, but true + false match rates would exceed 1 from 2018-01-20.
  const problems = problemsOf([
    { date: "2018-01-10", path: "observation.cameras.trueMatchRate", set: 0.99 },
    { date: "2018-01-20", path: "observation.cameras.falseMatchRate", set: 0.05 },
  ]);
  assert.equal(problems.length, 1, JSON.stringify(problems));
  assert.match(problemAt(problems, "timeline[1].set").expected, /at most 1 - trueMatchRate/);
  // A rule broken at another path than the entry's: laid on the entry that applied last, with the day.
  const other = problemAt(problemsOf([{ date: "2018-01-10", path: "observation.cameras.trueMatchRate", set: 0.999 }]), "timeline[0]");
  assert.equal(other.found, "observation.cameras.falseMatchRate: 0.002 on 2018-01-10");
  // An inherited name is not a field.
  assert.match(problemAt(problemsOf([{ date: "2018-01-10", path: "scoring.constructor", set: 1 }]), "timeline[0].path").expected, /no field "constructor"/);
});

test("paths fixed for the run are refused with why", () => {
  const days = problemAt(problemsOf([{ date: "2018-01-05", path: "days", set: 30 }]), "timeline[0].path");
  assert.match(days.expected, /fixed for the run: it defines the run/);
  assert.match(problemAt(problemsOf([{ date: "2018-01-05", path: "population.size", set: 10 }]), "timeline[0].path").expected, /drawn once/);
  assert.match(problemAt(problemsOf([{ date: "2018-01-05", path: "observation.informants.share", set: 0.1 }]), "timeline[0].path").expected, /drawn once/);
  assert.match(problemAt(problemsOf([{ date: "2018-01-05", path: "lists.debtors.id", set: "x" }]), "timeline[0].path").expected, /identity/);
  assert.match(problemAt(problemsOf([{ date: "2018-01-05", path: "scoring.grades", set: [] }]), "timeline[0].path").expected, /number and order/);
});

test("entries must be in date order and take exactly one change", () => {
  problemAt(problemsOf([
    { date: "2018-01-10", path: "mechanisms.appeals", set: false },
    { date: "2018-01-05", path: "mechanisms.shaming", set: false },
  ]), "timeline[1].date");
  problemAt(problemsOf([{ date: "2018-01-10", path: "scoring.awareness", set: 0.5, add: "x" }]), "timeline[0].add");
  problemAt(problemsOf([{ path: "mechanisms.appeals", set: false }]), "timeline[0].date");
});

test("a ramp is its start value on from, its end value on to and after, and the mean of its ends midway", () => {
  const s = withTimeline([{ from: "2018-01-11", to: "2018-01-31", path: "observation.cameras.coverageUrban", ramp: [0.176, 0.6] }]);
  const coverage = (day: number) => scenarioOn(s, day).observation.cameras.coverageUrban;
  assert.equal(coverage(9), 0.3); // the file's value before the ramp
  assert.equal(coverage(10), 0.176);
  assert.ok(Math.abs(coverage(20) - (0.176 + 0.6) / 2) < 1e-15, `midpoint ${coverage(20)}`);
  const exact = withTimeline([{ from: "2018-01-11", to: "2018-01-31", path: "scoring.awareness", ramp: [0.25, 0.75] }]);
  assert.equal(scenarioOn(exact, 20).scoring.awareness, 0.5);
  // The ends exactly, for ends that a product and a division would round (0.1 * 3 / 3).
  const ends = withTimeline([{ from: "2018-01-11", to: "2018-01-14", path: "scoring.awareness", ramp: [0.7, 0.1] }]);
  assert.deepEqual([10, 13, 40].map((d) => scenarioOn(ends, d).scoring.awareness), [0.7, 0.1, 0.1]);
  assert.equal(coverage(30), 0.6);
  assert.equal(coverage(59), 0.6);
  assert.ok(coverage(15) > 0.176 && coverage(15) < coverage(16) && coverage(16) < 0.6);
  // Pure: the base is untouched, and what the timeline did not change is shared.
  assert.equal(s.observation.cameras.coverageUrban, 0.3);
  assert.equal(scenarioOn(s, 20).lists, s.lists);
  assert.equal(scenarioOn(s, 5), s);
});

test("property: a ramp of whole numbers by whole steps is a whole number every day (an integer field stays valid)", () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 36500 }), fc.integer({ min: -200, max: 200 }), fc.integer({ min: 1, max: 59 }), (a, step, n) => {
    const b = Math.max(0, Math.min(36500, a + step * n));
    if ((b - a) % n) return;
    const s = withTimeline([{ from: "2018-01-01", to: new Date(Date.UTC(2018, 0, 1 + n)).toISOString().slice(0, 10), path: "lists.low-score.minDays", ramp: [a, b] }]);
    for (let day = 0; day <= n; day++) assert.equal(scenarioOn(s, day).lists[0].minDays, a + ((b - a) / n) * day);
  }), { numRuns: 300 });
});

test("add and remove a list's sanction; set switches a mechanism", () => {
  const s = withTimeline([
    { date: "2018-01-11", path: "lists.debtors.sanctions", add: "trains", source: "court notice" },
    { date: "2018-01-21", path: "lists.debtors.sanctions", remove: "flights" },
    { date: "2018-01-21", path: "mechanisms.appeals", set: false, note: "appeals suspended" },
    { date: "2018-01-31", path: "lists.debtors.sanctions", add: "trains" },
  ]);
  const sanctions = (day: number) => scenarioOn(s, day).lists[1].sanctions;
  assert.deepEqual(sanctions(9), ["flights", "hotels"]);
  assert.deepEqual(sanctions(10), ["flights", "hotels", "trains"]);
  assert.deepEqual(sanctions(20), ["hotels", "trains"]);
  assert.deepEqual(sanctions(40), ["hotels", "trains"]); // adding what is there changes nothing
  assert.equal(scenarioOn(s, 19).mechanisms.appeals, true);
  assert.equal(scenarioOn(s, 20).mechanisms.appeals, false);
  assert.deepEqual(s.lists[1].sanctions, ["flights", "hotels"]);
});

test("changeDays: the day a set takes effect, every day a ramp moves, not a set that changes nothing", () => {
  assert.deepEqual(changeDays(makeScenario()), []);
  const s = withTimeline([
    { date: "2018-01-01", path: "mechanisms.shaming", set: false },
    { from: "2018-01-06", to: "2018-01-09", path: "scoring.awareness", ramp: [0.5, 0.9] },
    { date: "2018-01-20", path: "scoring.deterrence", set: 0.5 }, // the value already in force
    { date: "2018-02-01", path: "lists.debtors.sanctions", add: "trains" },
  ]);
  assert.deepEqual(changeDays(s), [0, 5, 6, 7, 8, 31]);
  // Between change days the scenario does not change.
  assert.deepEqual(scenarioOn(s, 9), scenarioOn(s, 30));
  assert.deepEqual(changeDays(withTimeline([{ date: "2018-01-03", path: "mechanisms.shaming", set: false }])), [2]);
});

test("a scenario without a timeline keeps its hash (no timeline key appears)", () => {
  const s = makeScenario();
  assert.equal("timeline" in s, false);
  // The hash is of the canonical JSON: with no timeline key in it, it is what it was before timelines.
  assert.doesNotMatch(canonicalJson(s), /timeline/);
  assert.equal(scenarioHash(s), scenarioHash(parseScenario(baseInput(), "again")));
});

test("extends: the child's entries follow the parent's sorted by date stably; drop removes one by id", () => {
  const dir = mkdtempSync(join(tmpdir(), "credence-timeline-"));
  try {
    writeFileSync(join(dir, "parent.yaml"), stringify({
      ...baseInput(),
      timeline: [
        { id: "cameras-off", date: "2018-01-10", path: "observation.cameras.enabled", set: false },
        { id: "strict", date: "2018-01-20", path: "scoring.deterrence", set: 0.9 },
        { date: "2018-02-01", path: "mechanisms.shaming", set: false },
      ],
    }));
    writeFileSync(join(dir, "child.yaml"), stringify({
      extends: "parent.yaml",
      name: "child",
      timeline: [
        { date: "2018-01-20", path: "scoring.deterrence", set: 0.2 },
        { date: "2018-01-05", path: "mechanisms.appeals", set: false },
        { drop: "cameras-off" },
      ],
    }));
    const s = loadScenario(join(dir, "child.yaml"));
    assert.deepEqual(s.timeline!.map((e) => `${e.date} ${e.path}`), [
      "2018-01-05 mechanisms.appeals",
      "2018-01-20 scoring.deterrence", // the parent's first on the same day
      "2018-01-20 scoring.deterrence",
      "2018-02-01 mechanisms.shaming",
    ]);
    assert.equal(s.timeline![1].id, "strict");
    assert.equal(scenarioOn(s, 25).scoring.deterrence, 0.2); // so the child's wins
    assert.equal(scenarioOn(s, 25).observation.cameras.enabled, true); // dropped
    writeFileSync(join(dir, "bad-drop.yaml"), stringify({ extends: "parent.yaml", name: "child", timeline: [{ drop: "nothing" }] }));
    assert.throws(() => loadScenario(join(dir, "bad-drop.yaml")), (e: unknown) => e instanceof ScenarioError && e.problems[0].path === "timeline[0].drop");
    // A mapping patches the parent's entries by id, and the result is in date order again.
    writeFileSync(join(dir, "moved.yaml"), stringify({ extends: "parent.yaml", name: "child", timeline: { "cameras-off": { date: "2018-01-25" } } }));
    assert.deepEqual(loadScenario(join(dir, "moved.yaml")).timeline!.map((e) => e.date), ["2018-01-20", "2018-01-25", "2018-02-01"]);
    writeFileSync(join(dir, "none.yaml"), stringify({ extends: "parent.yaml", name: "child", timeline: null }));
    assert.equal(loadScenario(join(dir, "none.yaml")).timeline, undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("property: scenarioOn(base, d) for set entries is the last entry at or before d for each path", () => {
  const base = makeScenario();
  const paths: Record<string, fc.Arbitrary<unknown>> = {
    "scoring.awareness": fc.double({ min: 0, max: 1, noNaN: true }),
    "mechanisms.appeals": fc.boolean(),
    "lists.low-score.published": fc.boolean(),
    "behaviours.jaywalking.ratePerYear": fc.double({ min: 0, max: 100, noNaN: true }),
    "lists.debtors.sanctions": fc.subarray(["flights", "trains", "hotels", "jobs"]),
  };
  const entry = fc.oneof(...Object.entries(paths).map(([path, value]) => fc.record({ day: fc.integer({ min: 0, max: 59 }), path: fc.constant(path), set: value })));
  fc.assert(fc.property(fc.array(entry, { maxLength: 12 }), fc.integer({ min: 0, max: 59 }), (raw, day) => {
    const sorted = raw.map((e, i) => ({ ...e, i })).sort((a, b) => a.day - b.day || a.i - b.i);
    const timeline = sorted.map((e) => ({ date: new Date(Date.UTC(2018, 0, 1 + e.day)).toISOString().slice(0, 10), path: e.path, set: e.set }));
    const s = withTimeline(timeline);
    const on = scenarioOn(s, day);
    const expected = structuredClone(base) as unknown as Record<string, unknown>;
    for (const path of Object.keys(paths)) {
      const last = sorted.filter((e) => e.path === path && e.day <= day).at(-1);
      if (!last) continue;
      const [section, idOrKey, key] = path.split(".");
      const node = expected[section] as Record<string, unknown> | Record<string, unknown>[];
      if (Array.isArray(node)) node.find((x) => x.id === idOrKey)![key] = last.set;
      else node[idOrKey] = last.set;
    }
    const { timeline: _, ...got } = on;
    assert.deepEqual(got, expected);
  }), { numRuns: 200 });
});

test("reportedYear: a warm-started scenario's rules in force on its first reported day, as a plain year from that day", () => {
  const s = loadScenario(join(root, "scenarios/china-2018.yaml"));
  assert.equal(s.reportFrom, "2018-01-01");
  const year = reportedYear(s);
  assert.equal(year.startDate, "2018-01-01");
  assert.equal(year.days, 365);
  assert.equal(year.timeline, undefined);
  assert.equal(year.reportFrom, undefined);
  const list = (id: string) => year.lists.find((l) => l.id === id)!;
  // Every entry dated up to 2018-01-01 applied, none later.
  assert.deepEqual(list("dishonest-debtors").sanctions, ["flights", "trains", "hotels", "property", "private-schools"]);
  assert.equal(list("dishonest-debtors").durationDays, 730);
  assert.ok(!list("low-score").sanctions.includes("flights"), "the low-score list's flight ban starts in May 2018");
  assert.ok(year.targets.every((t) => t.at === undefined), "figures counted since 2013 cannot be judged on the year");
  assert.equal(reportedYear(year), year, "a scenario without a warm-up is itself");
});
