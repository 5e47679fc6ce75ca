// Many lists (issue 31, item 4): regional lists, lists generated from families, hundreds of lists
// with sparse membership, and what the outputs do with them.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { simulate } from "../src/model/simulate.js";
import { MAX_LISTS } from "../src/scenario/schema.js";
import { scenarioOn } from "../src/scenario/timeline.js";
import { loadScenario } from "../src/scenario/load.js";
import { withValues } from "../src/calibrate/calibrate.js";
import { baseInput, column, deepMerge, difference, makeScenario, problemsOf, table, values, type Overrides } from "./helpers.js";

const REGIONS = ["North", "South", "West"];
const debtors = (k: number, extra: Overrides = {}) => ({ id: `debtors-${k}`, kind: "black", entry: { acts: ["court-default"] }, ...extra });

test(`a scenario holds up to ${MAX_LISTS} lists, written or generated; one more is refused with the count`, () => {
  const lists = (n: number) => Array.from({ length: n }, (_, k) => debtors(k));
  assert.equal(makeScenario({ lists: lists(MAX_LISTS) }).lists.length, MAX_LISTS);
  assert.deepEqual(problemsOf(() => makeScenario({ lists: lists(MAX_LISTS + 1) })).map((p) => [p.path, p.expected]), [["lists", `a list of length <= ${MAX_LISTS}`]]);
  // Families count too: 3 written + 3 regions x 166 = 501.
  const family = (count: number) => ({ listFamilies: [{ id: "prov", kind: "black", count, entry: { acts: ["court-default"] } }] });
  assert.equal(makeScenario(family(165)).lists.length, 3 + 3 * 165);
  const [problem] = problemsOf(() => makeScenario(family(166)));
  assert.deepEqual([problem.path, problem.found, problem.expected], ["listFamilies", "498 lists generated beside 3 written", `at most ${MAX_LISTS} lists in all`]);
});

test("a list's regions and a family's regions must be the population's; the refusal names the list", () => {
  const [p] = problemsOf(() => makeScenario({ lists: [debtors(0, { regions: ["North", "Atlantis"] })] }));
  assert.equal(p.path, "lists[0].regions[1]");
  assert.equal(p.found, '"Atlantis"');
  assert.match(p.expected, /population\.regions \(list debtors-0 covers/);
  const [q] = problemsOf(() => makeScenario({ listFamilies: [{ id: "prov", kind: "black", count: 1, perRegion: { Atlantis: 2 }, entry: { acts: ["court-default"] } }] }));
  assert.deepEqual([q.path, q.found], ["listFamilies[0].perRegion.Atlantis", '"Atlantis"']);
  assert.match(q.expected, /family prov/);
  // The sums over a kind have these names; a list may not take them.
  assert.equal(problemsOf(() => makeScenario({ lists: [debtors(0, { id: "all-blacklists" })] }))[0].path, "lists[0].id");
  // `family` is set at load, not by hand.
  assert.equal(problemsOf(() => makeScenario({ lists: [debtors(0, { family: "prov" })] }))[0].path, "lists[0].family");
});

test("a family expands into lists per region, in region order, and parsing again gives the same lists", () => {
  const s = makeScenario({ listFamilies: [
    { id: "prov", kind: "black", count: 2, perRegion: { South: 0, West: 1 }, entry: { acts: ["court-default"] }, sanctions: ["loans"] },
    { id: "honest", kind: "red", count: 0, perRegion: { West: 1 }, entry: { scoreAtLeast: 1040 }, reported: true },
  ] });
  const generated = s.lists.filter((l) => l.family);
  assert.deepEqual(generated.map((l) => [l.id, l.regions, l.reported]), [
    ["prov-north-1", ["North"], false], ["prov-north-2", ["North"], false], ["prov-west-1", ["West"], false], ["honest-west-1", ["West"], true],
  ]);
  assert.deepEqual(generated[0].sanctions, ["loans"]);
  // A run's options parse the scenario again: the families are not expanded twice.
  assert.equal(simulate(s, { seed: 1, population: 500, days: 3 }).scenario.lists.length, s.lists.length);
});

test("a timeline may change a generated list by its id, not a family nor a list's regions", () => {
  const input = deepMerge(baseInput(), { listFamilies: [{ id: "prov", kind: "black", count: 1, entry: { acts: ["court-default"] } }] }) as Record<string, unknown>;
  const ok = makeScenario({ ...input, timeline: [{ date: "2018-01-20", path: "lists.prov-west-1.sanctions", add: "flights" }] });
  assert.deepEqual(scenarioOn(ok, 30).lists.find((l) => l.id === "prov-west-1")!.sanctions, ["flights"]);
  const [family] = problemsOf(() => makeScenario({ ...input, timeline: [{ date: "2018-01-20", path: "listFamilies.prov.durationDays", set: 30 }] }));
  assert.match(family.expected, /generated when the scenario loads: change one of them by its id/);
  const [regions] = problemsOf(() => makeScenario({ ...input, timeline: [{ date: "2018-01-20", path: "lists.prov-west-1.regions", set: ["North"] }] }));
  assert.match(regions.expected, /which regions a list covers, and its columns, are set on day 0/);
});

test("a calibration fits a family's parameters, not one generated list's (the family generates them afresh)", () => {
  const family = { listFamilies: [{ id: "prov", kind: "black", count: 1, entry: { acts: ["court-default"] }, paymentExit: { enabled: true, perYear: 1 } }] };
  const calibration = (path: string) => ({ calibration: { parameters: [{ path, min: 0.1, max: 2 }] }, targets: [{ metric: "listed_share.low-score", value: 0.1 }] });
  const s = makeScenario({ ...family, ...calibration("listFamilies.prov.paymentExit.perYear") });
  // An evaluation's scenario: the family's lists carry the value tried.
  const tried = withValues(s, [0.5]).lists.filter((l) => l.family === "prov");
  assert.deepEqual(tried.map((l) => l.paymentExit.perYear), [0.5, 0.5, 0.5]);
  const [p] = problemsOf(() => makeScenario({ ...family, ...calibration("lists.prov-west-1.paymentExit.perYear") }));
  assert.equal(p.path, "calibration.parameters[0].path");
  assert.match(p.expected, /prov-west-1 is family prov's: calibrate listFamilies\.prov\.paymentExit\.perYear/);
});

/** The region of each citizen id, from the citizens table (everyone is in the trail sample here). */
function regionsOf(r: ReturnType<typeof simulate>): Map<number, string> {
  const agents = column(r, "citizens", "agent"), regions = values(r, "citizens", "region");
  return new Map(Array.from(agents, (a, k) => [a, String(regions[k])]));
}

test("property: a regional list never lists a non-resident, by act, by score or in the error-free record", () => {
  const listArb = fc.record({
    rule: fc.constantFrom("act", "score", "red"),
    regions: fc.option(fc.subarray(REGIONS, { minLength: 1 }), { nil: undefined }),
  });
  fc.assert(fc.property(fc.array(listArb, { minLength: 1, maxLength: 6 }), fc.integer({ min: 0, max: 1e6 }), (specs, seed) => {
    const lists = specs.map((spec, k) => ({
      id: `l${k}`, kind: spec.rule === "red" ? "red" : "black",
      entry: spec.rule === "act" ? { acts: ["court-default", "cheating"] } : spec.rule === "score" ? { scoreBelow: 960 } : { scoreAtLeast: 1020 },
      ...(spec.regions ? { regions: spec.regions } : {}),
    }));
    const r = simulate(makeScenario({ lists }), { seed, population: 1_500, days: 30 });
    const regionOf = regionsOf(r);
    const ev = table(r, "list_events");
    const agent = column(r, "list_events", "agent"), list = values(r, "list_events", "list");
    for (let k = 0; k < ev.rows; k++) {
      const covers = lists.find((l) => l.id === list[k])!.regions;
      if (covers) assert.ok(covers.includes(regionOf.get(agent[k])!), `${list[k]} listed ${agent[k]} of ${regionOf.get(agent[k])}`);
    }
    // The error-free record's lists likewise (it keeps no events: its members at the end).
    const errorFree = values(r, "citizens", "error_free_lists"), agents = column(r, "citizens", "agent");
    errorFree.forEach((names, k) => {
      for (const name of String(names).split(",").filter(Boolean)) {
        const covers = lists.find((l) => l.id === name)!.regions;
        if (covers) assert.ok(covers.includes(regionOf.get(agents[k])!), `error-free ${name} holds ${agents[k]}`);
      }
    });
    return ev.rows > 0;
  }), { numRuns: 8 });
});

test("a list naming every region runs exactly as the same list national", () => {
  const s = makeScenario();
  const everywhere = makeScenario({ lists: (baseInput().lists as object[]).map((l) => ({ ...l, regions: REGIONS })) });
  const a = simulate(s, { seed: 4, population: 3_000, days: 40 });
  const b = simulate(everywhere, { seed: 4, population: 3_000, days: 40 });
  // Alike but for the lists table, which says which regions each list covers.
  const drop = (r: typeof a) => ({ ...r, tables: r.tables.filter((t) => t.name !== "lists") });
  assert.equal(difference(drop(a), drop(b)), null);
  assert.ok(a.summary.lists.every((l) => l.entries > 0), JSON.stringify(a.summary.lists));
});

test("a person on several lists bears the union of their sanctions", () => {
  const s = makeScenario({
    lists: [
      { id: "debtors", kind: "black", entry: { acts: ["court-default"] }, sanctions: ["flights", "trains"] },
      { id: "cheats", kind: "black", entry: { acts: ["cheating"] }, sanctions: ["flights", "hotels"], regions: ["North", "South"] },
    ],
  });
  const r = simulate(s, { seed: 2, population: 5_000, days: 120 });
  const on = values(r, "citizens", "lists").map((v) => String(v).split(",").filter(Boolean));
  const count = (f: (l: string[]) => boolean) => on.filter(f).length;
  const both = count((l) => l.length === 2), onDebtors = count((l) => l.includes("debtors")), onCheats = count((l) => l.includes("cheats"));
  assert.ok(both > 10 && onDebtors > both && onCheats > both, `${both} on both, ${onDebtors} debtors, ${onCheats} cheats`);
  const last = (name: string) => { const c = column(r, "daily", name); return c[c.length - 1]; };
  assert.equal(last("barred_trains"), onDebtors);
  assert.equal(last("barred_hotels"), onCheats);
  assert.equal(last("barred_flights"), onDebtors + onCheats - both, "flights: everyone on either list, once");
});

test("memory per citizen does not grow with the number of lists", () => {
  const family = { listFamilies: [
    { id: "prov", kind: "black", count: 100, entry: { acts: ["court-default"] }, sanctions: ["loans"] },
    { id: "low", kind: "black", count: 40, entry: { scoreBelow: 960 } },
    { id: "honest", kind: "red", count: 25, entry: { scoreAtLeast: 1030 } },
  ] };
  const few = simulate(makeScenario(), { seed: 1, population: 2_000, days: 10 });
  const many = simulate(makeScenario(family), { seed: 1, population: 2_000, days: 10 });
  assert.equal(many.scenario.lists.length, 3 + 3 * 165);
  assert.equal(many.stats.stateBytesPerCitizen, few.stats.stateBytesPerCitizen);
  assert.ok(many.summary.lists.filter((l) => l.entries > 0).length > 100, "the lists are in use");
});

test("with lists that are not reported: list_daily has every list, and the daily sums over a kind equal its rows", () => {
  const s = makeScenario({ listFamilies: [
    { id: "prov", kind: "black", count: 2, entry: { acts: ["court-default"] }, sanctions: ["loans"] },
    { id: "honest", kind: "red", count: 1, entry: { scoreAtLeast: 1030 } },
  ] });
  const r = simulate(s, { seed: 3, population: 4_000, days: 30 });
  const daily = table(r, "daily");
  assert.ok(!daily.columns.some((c) => c.name === "on_prov_north_1"), "a list not reported has no columns of its own");
  assert.ok(daily.columns.some((c) => c.name === "on_low_score"), "a written list keeps its columns");
  const ld = table(r, "list_daily"), lists = s.lists.length;
  assert.equal(ld.rows, 30 * lists);
  const on = column(r, "list_daily", "on"), entries = column(r, "list_daily", "entries"), names = values(r, "list_daily", "list");
  for (const kind of ["black", "red"] as const) {
    const sums = column(r, "daily", `on_all_${kind}lists`), sumEntries = column(r, "daily", `entries_all_${kind}lists`);
    for (let d = 0; d < 30; d++) {
      let a = 0, b = 0;
      for (let k = 0; k < lists; k++) if (s.lists[k].kind === kind) { a += on[d * lists + k]; b += entries[d * lists + k]; }
      assert.equal(sums[d], a, `on_all_${kind}lists on day ${d}`);
      assert.equal(sumEntries[d], b);
    }
  }
  // A reported list's row in list_daily is its daily column.
  const k = s.lists.findIndex((l) => l.id === "low-score");
  assert.equal(names[k], "low-score");
  assert.deepEqual(Array.from({ length: 30 }, (_, d) => on[d * lists + k]), Array.from(column(r, "daily", "on_low_score")));
  // The summary has every list, from list_daily.
  const prov = r.summary.lists.filter((l) => l.id.startsWith("prov-"));
  assert.equal(prov.length, 6);
  assert.ok(prov.some((l) => l.entries > 0));
  assert.equal(r.summary.metrics["listed_share.prov-north-1"], prov[0].onListEnd / 4_000);
});

test("a run with hundreds of lists resumed from a checkpoint equals the uninterrupted run", () => {
  const s = makeScenario({ listFamilies: [
    { id: "prov", kind: "black", count: 60, entry: { acts: ["court-default", "cheating"] }, paymentExit: { enabled: true, perYear: 2 }, sanctions: ["loans"] },
    { id: "low", kind: "black", count: 20, entry: { scoreBelow: 960 }, sanctions: ["jobs"] },
    { id: "honest", kind: "red", count: 20, entry: { scoreAtLeast: 1030 }, privileges: ["job-priority"] },
  ] });
  const key = new Uint8Array(32).fill(7);
  const opts = { seed: 6, population: 3_000, days: 40, checkpointKey: key };
  const saved = new Map<number, Uint8Array>();
  const plain = simulate(s, { ...opts, checkpoint: { everyDays: 20, write: (bytes, day) => saved.set(day, bytes) } });
  assert.ok(plain.summary.lists.filter((l) => l.entries > 0).length > 100, "the lists are in use");
  const resumed = simulate(s, { ...opts, resume: saved.get(20)! });
  assert.equal(difference(plain, resumed), null);
});

test("provincial-lists: 273 provincial blacklists and 154 redlists over 30 provinces, and a national court list", () => {
  const s = loadScenario(new URL("../../scenarios/provincial-lists.yaml", import.meta.url).pathname);
  const provincial = s.lists.filter((l) => l.family);
  assert.equal(provincial.filter((l) => l.kind === "black").length, 273);
  assert.equal(provincial.filter((l) => l.kind === "red").length, 154);
  assert.equal(new Set(provincial.flatMap((l) => l.regions!)).size, 30);
  assert.ok(s.lists.some((l) => l.id === "dishonest-debtors" && !l.regions));
});
