// Sanctions as effects (silence, confinement, house arrest, income while held, children) and
// visible scores: metamorphic tests. Each switches an effect on and checks that a stated quantity
// moves the stated way, and that the effect at zero changes nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "../src/model/simulate.js";
import { SimulationStopped } from "../src/engine/checkpoint.js";
import type { RunResult } from "../src/model/result.js";
import { column, difference, makeScenario, sum, table, tableDifference, values, type Overrides } from "./helpers.js";

const run = (overrides: Overrides, seed = 3, population = 6_000, days = 90, threads = 1): RunResult =>
  simulate(makeScenario(overrides), { seed, population, days, threads });

const total = (r: RunResult, metric: string) => sum(column(r, "daily", metric));

/** Every table equal, but for the columns (or whole tables) named: the effect's own counts. */
function sameExcept(a: RunResult, b: RunResult, skip: string[] = []): string | null {
  for (const ta of a.tables) {
    if (skip.includes(ta.name)) continue;
    const tb = table(b, ta.name);
    const keep = (t: typeof ta) => ({ ...t, columns: t.columns.filter((c) => !skip.includes(c.name)) });
    const d = tableDifference(keep(ta), keep(tb));
    if (d) return d;
  }
  return null;
}

/** A list that holds many people for most of the run (a score blacklist near the start score), with the given sanctions and effects. */
const banned = (sanctions: string[], consequences: Overrides = {}, mechanisms: Overrides = {}): Overrides => ({
  lists: [{ id: "low-score", kind: "black", entry: { scoreBelow: 990 }, sanctions }],
  consequences: { sanctions: consequences },
  mechanisms,
});

/** Per listed person, the day they entered the list (their first entry) and left it (or Infinity). */
function listedSpans(r: RunResult): Map<number, { from: number; to: number }> {
  const day = column(r, "list_events", "day"), agent = column(r, "list_events", "agent"), event = values(r, "list_events", "event");
  const spans = new Map<number, { from: number; to: number }>();
  for (let k = 0; k < day.length; k++) {
    const s = spans.get(agent[k]);
    if (event[k] === "enter" && !s) spans.set(agent[k], { from: day[k], to: Infinity });
    else if (event[k] !== "enter" && s && s.to === Infinity) s.to = day[k];
  }
  return spans;
}

/** Acts of a class in the trail by people while on the list (from the day after entry to the day they left). */
function actsWhileBanned(r: RunResult, behaviours: string[]): number {
  const spans = listedSpans(r);
  const agent = column(r, "trail", "agent"), day = column(r, "trail", "day");
  const event = values(r, "trail", "event"), behaviour = values(r, "trail", "behaviour");
  let n = 0;
  for (let k = 0; k < agent.length; k++) {
    if (event[k] !== "act" || !behaviours.includes(behaviour[k] as string)) continue;
    const s = spans.get(agent[k]);
    if (s && day[k] > s.from && day[k] <= s.to) n++;
  }
  return n;
}

test("metamorphic: a social-media ban silences the banned (from the day after listing); at silence 0 nothing changes", () => {
  const full = run(banned(["social-media"], { "social-media": { effects: { silence: 1 } } }));
  const half = run(banned(["social-media"], { "social-media": { effects: { silence: 0.5 } } }));
  const none = run(banned(["social-media"], { "social-media": { effects: { silence: 0 } } }));
  const off = run(banned(["social-media"], { "social-media": { effects: { silence: 1 } } }, { silencing: false }));
  assert.ok(listedSpans(full).size > 200, `people should be banned (${listedSpans(full).size})`);
  // Fully silenced: not one speech act while banned, from the day after the listing on.
  assert.equal(actsWhileBanned(full, ["rumours"]), 0);
  assert.ok(actsWhileBanned(none, ["rumours"]) > 50, `speech of the banned without silencing: ${actsWhileBanned(none, ["rumours"])}`);
  // Half silenced: about half the speech acts of the banned are stopped (counted apart from chilling).
  const spoke = actsWhileBanned(half, ["rumours"]), stopped = total(half, "speech_silenced");
  assert.ok(Math.abs(stopped / (stopped + spoke) - 0.5) < 0.1, `silenced ${stopped} of ${stopped + spoke}`);
  assert.ok(total(full, "speech_acts") < total(none, "speech_acts"), `speech ${total(full, "speech_acts")} vs ${total(none, "speech_acts")}`);
  assert.ok(full.summary.metrics.silenced! > 0 && none.summary.metrics.silenced === 0);
  // Silenced speech is not chilling: chilling counts what the watch stops.
  assert.ok(Math.abs(full.summary.chilling! - none.summary.chilling!) < 0.02, `chilling ${full.summary.chilling} vs ${none.summary.chilling}`);
  // At 0, or with the master switch off, the run is the run without the effect, bit for bit (but for who counts as silenced).
  assert.equal(total(none, "speech_silenced"), 0);
  assert.equal(sameExcept(none, off, ["silenced"]), null);
  assert.ok(total(full, "silenced") > 0 && total(off, "silenced") === 0);
});

test("metamorphic: a confining travel ban cuts the banned's travel attempts to the stated share; house arrest cuts public acts", () => {
  const flights = { attemptsPerYear: 30, afterBlock: 1 };
  const free = run(banned(["flights"], { flights: { ...flights, effects: { confine: 0 } } }));
  const half = run(banned(["flights"], { flights: { ...flights, effects: { confine: 0.5 } } }));
  const home = run(banned(["flights"], { flights: { ...flights, effects: { confine: 1, houseArrest: 1 } } }));
  const off = run(banned(["flights"], { flights: { ...flights, effects: { confine: 1, houseArrest: 1 } } }, { confinement: false }));
  const tried = (r: RunResult) => total(r, "blocked_flights");
  const prevented = (r: RunResult) => total(r, "trips_prevented");
  assert.ok(tried(free) > 500, `blocked flights without confinement: ${tried(free)}`);
  assert.equal(prevented(free), 0);
  // Confined at 0.5: half of the attempts are made (and blocked), half are trips not tried.
  assert.ok(Math.abs(tried(half) / (tried(half) + prevented(half)) - 0.5) < 0.05, `made ${tried(half)}, prevented ${prevented(half)}`);
  assert.ok(Math.abs(tried(half) + prevented(half) - tried(free)) < 0.1 * tried(free));
  // Confined at 1: no attempt at all; under house arrest, no public act while banned.
  assert.equal(tried(home), 0);
  assert.ok(prevented(home) > 500);
  assert.equal(actsWhileBanned(home, ["jaywalking"]), 0);
  assert.ok(actsWhileBanned(free, ["jaywalking"]) > 50);
  assert.ok(total(home, "public_acts_prevented") > 0 && total(free, "public_acts_prevented") === 0);
  assert.ok(total(home, "confined") > 0 && total(free, "confined") === 0);
  // Confinement at 0 is the master switch off: the same run.
  assert.equal(sameExcept(free, off), null);
});

test("a job ban lowers income while the person is listed, income recovers when the listing ends, and the income stock is exact", () => {
  // An act list (a court default lists the person for 20 days): many enter, and many leave again, some on day 0.
  const jobBan = (feedback: boolean): Overrides => ({
    behaviours: [
      { id: "jaywalking", class: "public", ratePerYear: 4, points: -5, observedBy: ["cameras"] },
      { id: "court-default", class: "financial", ratePerYear: 3, points: -50, observedBy: ["records"] },
      { id: "volunteering", class: "civic", ratePerYear: 3, points: 10, observedBy: ["records"] },
    ],
    observation: { attention: { enabled: false } },
    lists: [{ id: "debtors", kind: "black", entry: { acts: ["court-default"] }, durationDays: 20, sanctions: ["jobs"] }],
    consequences: { sanctions: { jobs: { incomeEffect: -0.5 } } },
    mechanisms: { incomeFeedback: feedback },
  });
  const on = run(jobBan(true), 5, 4_000, 60), base = run(jobBan(false), 5, 4_000, 60);
  const lists = values(on, "citizens", "lists"), income = column(on, "citizens", "income"), baseIncome = column(base, "citizens", "income");
  const everListed = listedSpans(on);
  const agents = column(on, "citizens", "agent");
  let listed = 0, recovered = 0;
  for (let k = 0; k < lists.length; k++) {
    if (lists[k] === "debtors") {
      assert.ok(Math.abs(income[k] - 0.5 * baseIncome[k]) <= 1e-6 * baseIncome[k], `listed row ${k}: ${income[k]} vs half of ${baseIncome[k]}`);
      listed++;
    } else if (everListed.has(agents[k])) {
      assert.equal(income[k], baseIncome[k], `row ${k} left the list: income back to the base`);
      recovered++;
    }
  }
  assert.ok(listed > 20 && recovered > 20, `listed at the end ${listed}, left ${recovered}`);
  // The daily income stock (summed by the consequences phase as people enter and leave) is the sum of the incomes.
  const stock = column(on, "daily", "income_sum");
  assert.ok(Math.abs(stock[stock.length - 1] - sum(income)) < 1e-6 * sum(income), `income_sum ${stock[stock.length - 1]} vs ${sum(income)}`);
  assert.ok(everListed.size > 0 && [...everListed.values()].some((s) => s.from === 0), "someone should be listed on day 0");
});

test("metamorphic: a school ban reaches the minors of the banned person's household", () => {
  const schools = { "private-schools": { attemptsPerYear: 20 } };
  const on = run(banned(["private-schools"], schools));
  const without = run(banned(["private-schools"], schools, { sanctionsReachChildren: false }));
  const barred = column(on, "daily", "children_barred");
  assert.ok(total(on, "children_blocked") > 20, `children blocked: ${total(on, "children_blocked")}`);
  // At the end, the children barred are the minors of the households with someone on the list.
  const lists = values(on, "citizens", "lists"), household = column(on, "citizens", "household"), age = values(on, "citizens", "age_band");
  const banning = new Set<number>();
  for (let k = 0; k < lists.length; k++) if (lists[k] === "low-score") banning.add(household[k]);
  let minors = 0;
  for (let k = 0; k < lists.length; k++) if (banning.has(household[k]) && age[k] === "under-18") minors++;
  assert.ok(minors > 20);
  assert.equal(barred[barred.length - 1], minors);
  // Blocked children are minors, in the trail.
  const event = values(on, "trail", "event"), detail = values(on, "trail", "detail"), agent = column(on, "trail", "agent");
  const ageOf = new Map<number, unknown>(Array.from(column(on, "citizens", "agent"), (a, k) => [a, age[k]]));
  let blockedMinors = 0;
  for (let k = 0; k < event.length; k++) if (event[k] === "blocked" && detail[k] === "private-schools" && ageOf.get(agent[k]) === "under-18") blockedMinors++;
  assert.ok(blockedMinors >= total(on, "children_blocked"));
  // Off: nobody's children are reached, and nothing else changes (the minors' draws are their own).
  assert.equal(total(without, "children_blocked") + total(without, "children_barred"), 0);
  assert.equal(sameExcept(on, without, ["children_barred", "children_blocked", "trail"]), null);
  assert.equal(table(on, "trail").rows - table(without, "trail").rows, total(on, "children_blocked"));
});

test("metamorphic: with visible scores the low-scored lose more ties; at rate 0 nothing changes", () => {
  const visible = (dropPerYear: number, enabled = true): Overrides => ({
    lists: [], visibility: { enabled, lowScoreBelow: 990, dropPerYear },
    mechanisms: { shaming: false },
  });
  const on = run(visible(1)), zero = run(visible(0)), off = run(visible(1, false));
  assert.ok(total(on, "ties_dropped_low_score") > 100, `ties dropped: ${total(on, "ties_dropped_low_score")}`);
  const lowOn = on.summary.metrics.isolation_of_low_scored!, lowZero = zero.summary.metrics.isolation_of_low_scored!;
  assert.ok(lowOn > lowZero + 0.05, `isolation of the low-scored: ${lowOn} with visible scores, ${lowZero} at rate 0`);
  assert.ok(lowOn > on.summary.metrics.isolation_of_others!, "the low-scored lose more than the others");
  // Rate 0 is visibility off, but for the band counts that visibility on reports.
  assert.equal(sameExcept(zero, off, ["low_scored", "low_scored_ties_alive", "low_scored_ties_initial", "other_ties_alive", "other_ties_initial", "summary"]), null);
  const { isolation_of_low_scored: _a, isolation_of_others: _b, ...rest } = zero.summary.metrics;
  const { isolation_of_low_scored: _c, isolation_of_others: _d, ...restOff } = off.summary.metrics;
  assert.deepEqual(rest, restOff);
  assert.equal(total(zero, "ties_dropped_low_score"), 0);
  assert.equal(off.summary.metrics.isolation_of_low_scored, null);
});

/** Every effect on, and its kept state in use (people counted as silenced and confined, households reached). */
const everyEffect: Overrides = {
  ...banned(["social-media", "flights", "private-schools"], {
    "social-media": { effects: { silence: 0.7 } }, flights: { attemptsPerYear: 10, effects: { confine: 0.5, houseArrest: 0.5 } },
    "private-schools": { attemptsPerYear: 10 },
  }),
  visibility: { enabled: true, lowScoreBelow: 990, dropPerYear: 1 },
};

test("a run with every effect, stopped and resumed from a checkpoint (on another number of threads), is the uninterrupted run", () => {
  // A timeline that changes the effects while people hold them: the counts of who is silenced,
  // confined or reached follow (the consequences phase is rebuilt as on a resume).
  const s = makeScenario({
    ...everyEffect,
    timeline: [
      { date: "2018-01-31", path: "consequences.sanctions.social-media.effects.silence", set: 0 },
      { date: "2018-02-10", path: "mechanisms.sanctionsReachChildren", set: false },
    ],
  });
  const opts = { seed: 4, population: 5_000, days: 60, checkpointKey: new Uint8Array(32).fill(7) };
  const plain = simulate(s, opts);
  const stock = (r: RunResult, m: string, day: number) => column(r, "daily", m)[day];
  assert.ok(stock(plain, "silenced", 29) > 0 && stock(plain, "children_barred", 39) > 0 && stock(plain, "confined", 59) > 0);
  assert.equal(stock(plain, "silenced", 59), 0, "nobody is silenced once silence is 0");
  assert.equal(stock(plain, "children_barred", 59), 0, "no child is reached once the switch is off");
  let saved: Uint8Array | undefined;
  assert.throws(() => simulate(s, { ...opts, threads: 2, checkpoint: { everyDays: 100, write: (b) => (saved = b) }, shouldStop: (() => { let k = 0; return () => k++ === 35; })() }), SimulationStopped);
  assert.equal(difference(plain, simulate(s, { ...opts, threads: 3, resume: saved! })), null);
});

test("the effects are the same on 1, 2 and 3 threads", () => {
  const o = everyEffect;
  const one = run(o, 2, 6_000, 40, 1);
  assert.ok(total(one, "speech_silenced") > 0 && total(one, "public_acts_prevented") > 0 && total(one, "trips_prevented") > 0);
  for (const threads of [2, 3]) assert.equal(sameExcept(one, run(o, 2, 6_000, 40, threads)), null, `${threads} threads`);
});
