// A scenario through time: `timeline:` entries change parameters from dated days on, and the
// functions here say what the scenario is on each day. They are pure: the engine asks for the
// scenario in force on each day in changeDays(base) and rebuilds what it precomputed from it.
import type { Problem } from "./load.js";
import type { Scenario, TimelineEntry } from "./schema.js";
import { getAt, pathString, resolvePath, type Segment } from "./paths.js";

const DAY_MS = 86_400_000;

/** The 0-based day of the run on which the calendar date `date` falls (negative before startDate). */
export const dayOf = (startDate: string, date: string): number => Math.round((Date.parse(date) - Date.parse(startDate)) / DAY_MS);

const firstDate = (e: TimelineEntry): string => e.date ?? e.from ?? "";

/** The calendar date of day `day` of a run that starts on `startDate`. */
export const dateOn = (startDate: string, day: number): string => new Date(Date.parse(startDate) + day * DAY_MS).toISOString().slice(0, 10);

/** The field of an entry that says what it changes. */
const changeOf = (e: TimelineEntry) => (["set", "ramp", "add", "remove"] as const).find((k) => e[k] !== undefined)!;

/** Fields outside population and graph that only shape who is drawn on day 0. */
const DRAWN_ON_DAY_0 = new Set(["firms.perCitizen", "firms.propensitySigma", "observation.informants.share", "observation.attention.memberShare"]);

/**
 * What a timeline may not change, with why: each is fixed when the run starts, or is not a
 * parameter of the simulation at all. `keys` are a path's concrete keys (ids resolved to indices).
 */
const FIXED_FOR_THE_RUN: ReadonlyArray<{ fixed: (keys: Segment[], value: unknown) => boolean; why: string }> = [
  { fixed: (k) => ["name", "title", "description"].includes(String(k[0])), why: "it names the scenario" },
  { fixed: (k) => k[0] === "startDate" || k[0] === "days" || k[0] === "reportFrom", why: "it defines the run the timeline is dated in" },
  { fixed: (k) => k[0] === "timeline", why: "a timeline does not rewrite itself" },
  { fixed: (k) => k[0] === "population" || k[0] === "graph" || DRAWN_ON_DAY_0.has(k.join(".")), why: "people, firms, ties, informants and party members are drawn once, on day 0" },
  { fixed: (k) => ["mechanisms.lists", "mechanisms.firms", "firms.enabled"].includes(k.join(".")), why: "lists and firms are set up on day 0 (empty a list by changing its rules; stop firms' sanctions instead)" },
  { fixed: (k) => k[0] === "listFamilies", why: "a family's lists are generated when the scenario loads: change one of them by its id (lists.<family>-<region>-<k>...)" },
  { fixed: (k) => k[0] === "lists" && ["regions", "reported", "family"].includes(String(k[2])), why: "which regions a list covers, and its columns, are set on day 0" },
  { fixed: (k) => k[0] === "metrics", why: "what is recorded, and how often, is fixed so that series stay comparable" },
  { fixed: (k) => k[0] === "targets" || k[0] === "calibration", why: "it judges or fits a run, it is not part of one" },
  { fixed: (k) => k.length > 1 && typeof k[k.length - 2] === "number" && ["id", "name", "kind", "class"].includes(String(k[k.length - 1])), why: "it is an element's identity: state and results are kept by it" },
  { fixed: (_, v) => Array.isArray(v) && v.some((e) => e !== null && typeof e === "object"), why: "a list of elements keeps its number and order: state and results are kept by position" },
];

/** Why the value at `keys` is fixed for the run, or undefined when a timeline may change it. */
export function fixedForTheRun(keys: Segment[], value: unknown): string | undefined {
  return FIXED_FOR_THE_RUN.find((f) => f.fixed(keys, value))?.why;
}

/** An entry resolved against its base scenario: the day it starts and how it changes the value. */
interface CompiledEntry {
  start: number;
  keys: Segment[];
  /** The value on `day` (>= start), given the value in force before this entry. */
  valueOn: (before: unknown, day: number) => unknown;
  /** Last day the value moves (a ramp's `to`; `start` otherwise). */
  end: number;
}

function compileEntry(base: Scenario, e: TimelineEntry, i: number): CompiledEntry {
  const r = resolvePath(base, e.path);
  if ("error" in r) throw new Error(`timeline[${i}].path: ${r.error}`);
  const start = dayOf(base.startDate, firstDate(e));
  if (e.ramp) {
    const [from, to] = e.ramp;
    const end = dayOf(base.startDate, e.to ?? "");
    // One division, last: exact at both ends, and a whole number on every day when the ramp moves
    // by whole steps (a + t(b - a) is not: 0.3 * 10 days of a 0-to-10 ramp can come out 3.0000000000000004).
    const valueOn = (_: unknown, day: number) => {
      if (day >= end) return to; // (to * n) / n need not be exactly to
      const n = end - start, k = day - start;
      return k === 0 ? from : (from * (n - k) + to * k) / n;
    };
    return { start, end, keys: r.keys, valueOn };
  }
  if (e.add !== undefined) {
    const item = e.add;
    return { start, end: start, keys: r.keys, valueOn: (before) => ((before as unknown[]).includes(item) ? before : [...(before as unknown[]), item]) };
  }
  if (e.remove !== undefined) {
    const item = e.remove;
    return { start, end: start, keys: r.keys, valueOn: (before) => (before as unknown[]).filter((x) => x !== item) };
  }
  const value = e.set;
  return { start, end: start, keys: r.keys, valueOn: () => value };
}

const compiled = new WeakMap<Scenario, CompiledEntry[]>();

/** The base's entries, resolved once per scenario object (paths name elements by id; ids and order are fixed for the run). */
function compile(base: Scenario): CompiledEntry[] {
  let entries = compiled.get(base);
  if (!entries) {
    entries = (base.timeline ?? []).map((e, i) => compileEntry(base, e, i));
    compiled.set(base, entries);
  }
  return entries;
}

/** `data` with the value at `keys` replaced, copying only the objects on the way (the rest is shared). */
function withValue(data: unknown, keys: Segment[], value: unknown, depth = 0): unknown {
  if (depth === keys.length) return value;
  const k = keys[depth];
  const node = data as Record<Segment, unknown>;
  const copy: Record<Segment, unknown> = Array.isArray(node) ? [...node] as unknown as Record<Segment, unknown> : { ...node };
  copy[k] = withValue(node[k], keys, value, depth + 1);
  return copy;
}

/**
 * The scenario in force on day `day` (0-based from startDate): `base` with every timeline entry
 * that starts on or before `day` applied in order. Returns `base` itself when none does; the
 * result shares every part the timeline did not change with `base`, so treat both as read-only.
 * `base` must have been validated (parseScenario) with its timeline.
 */
export function scenarioOn(base: Scenario, day: number): Scenario {
  let s: unknown = base;
  for (const e of compile(base)) {
    if (e.start > day) break; // entries are in date order
    s = withValue(s, e.keys, e.valueOn(getAt(s, e.keys), day), 0);
  }
  return s as Scenario;
}

/**
 * A scenario cut to its first `days` days (a shorter run of it: --days, a calibration's days):
 * timeline entries that start later are dropped, a ramp that ends later stops where it has got
 * to on the last day, dated targets and checks judged later are dropped (with the
 * calibration, if no target is left), and a warm-up that would fill the whole run is dropped (it
 * reports its every day). Changes `s` (a copy) in place.
 */
export function cutToDays(s: Scenario, days: number): void {
  const last = days - 1;
  const lastDate = dateOn(s.startDate, last);
  if (s.timeline) {
    s.timeline = s.timeline.filter((e) => firstDate(e) <= lastDate).map((e) => {
      if (!e.ramp || (e.to ?? "") <= lastDate) return e;
      const start = dayOf(s.startDate, firstDate(e)), end = dayOf(s.startDate, e.to!);
      const [a, b] = e.ramp;
      // The value the ramp has on the last day, as valueOn computes it.
      const reached = last === start ? a : (a * (end - last) + b * (last - start)) / (end - start);
      if (last > start) return { ...e, to: lastDate, ramp: [a, reached] as [number, number] };
      const { ramp: _ramp, from: _from, to: _to, ...rest } = e;
      return { ...rest, date: firstDate(e), set: a }; // a ramp that starts on the last day: its first value
    });
  }
  const judged = (t: Scenario["targets"][number]) => t.at === undefined || t.at <= lastDate;
  s.targets = s.targets.filter(judged);
  s.checks = s.checks.filter(judged);
  if (!s.targets.length) delete s.calibration; // nothing left to fit in so short a run
  if (s.reportFrom !== undefined && s.reportFrom > lastDate) delete s.reportFrom;
}

/** The first day (0-based) a run reports: its warm-up is the days before (reportFrom). */
export const firstReportedDay = (s: Scenario): number => (s.reportFrom === undefined ? 0 : dayOf(s.startDate, s.reportFrom));

/** Every scenario a run puts in force: `base`, then the one of each change day. What is built once for the whole run (bounds, who is drawn as what) must serve them all. */
export function scenariosInForce(base: Scenario): Scenario[] {
  return [base, ...changeDays(base).map((day) => scenarioOn(base, day))];
}

/**
 * The sorted days (0-based) on which the scenario in force differs from the day before: days an
 * entry starts and every day a ramp moves, less those on which nothing ends up different (an
 * entry that sets the value already in force). Day 0 is included when an entry changes it from
 * `base`. One pass over the days entries move, each compared at the paths that move on it.
 */
export function changeDays(base: Scenario): number[] {
  const movingOn = new Map<number, Segment[][]>();
  for (const e of compile(base)) {
    for (let day = Math.max(0, e.start); day <= Math.min(e.end, base.days - 1); day++) movingOn.set(day, [...(movingOn.get(day) ?? []), e.keys]);
  }
  const days: number[] = [];
  // The scenario only changes on these days, so the one in force the day before is the previous one's (or base).
  let before: Scenario = base;
  for (const [day, paths] of [...movingOn].sort((a, b) => a[0] - b[0])) {
    const now = scenarioOn(base, day);
    if (paths.some((keys) => JSON.stringify(getAt(before, keys)) !== JSON.stringify(getAt(now, keys)))) days.push(day);
    before = now;
  }
  return days;
}

/**
 * Merge a parent's timeline with a child's (`extends:`): the child's entries follow the parent's,
 * sorted by date stably; a child's `- drop: <id>` removes the parent's entry with that id.
 * Works on raw data: malformed entries are left for the schema to report.
 */
export function mergeTimelines(parent: unknown, child: unknown, problems: Problem[]): unknown {
  if (!Array.isArray(child)) return child;
  const merged: unknown[] = Array.isArray(parent) ? [...parent] : [];
  const added: unknown[] = [];
  child.forEach((e, i) => {
    const drop = e !== null && typeof e === "object" ? (e as Record<string, unknown>).drop : undefined;
    if (drop === undefined) return void added.push(e);
    const at = merged.findIndex((p) => p !== null && typeof p === "object" && (p as Record<string, unknown>).id === drop);
    if (at < 0) problems.push({ path: `timeline[${i}].drop`, found: JSON.stringify(drop), expected: "the id of an entry of the extended scenario's timeline" });
    else merged.splice(at, 1);
  });
  return sortByDate([...merged, ...added]);
}

/** Raw timeline entries sorted by date (a ramp's from), stably. */
export function sortByDate(entries: unknown[]): unknown[] {
  const dateOf = (e: unknown) => (e !== null && typeof e === "object" ? String((e as Record<string, unknown>).date ?? (e as Record<string, unknown>).from ?? "") : "");
  return entries.map((e, i) => ({ e, i, date: dateOf(e) })).sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : a.i - b.i)).map((x) => x.e);
}

/**
 * What is wrong with a validated scenario's timeline, each problem naming its entry. `validate`
 * returns the problems of plain scenario data (the loader's schema and cross-field checks): the
 * scenario in force is validated on every day an entry starts, plus a ramp's first moving day
 * and last day (a linear value that is whole on its first step is whole throughout, and a range
 * that holds at both ends holds between them).
 */
export function timelineProblems(s: Scenario, validate: (data: unknown) => Problem[]): Problem[] {
  const timeline = s.timeline ?? [];
  const out: Problem[] = [];
  const lastDay = s.days - 1;
  const lastDate = dateOn(s.startDate, lastDay);
  const checkDays = new Set<number>();
  let sound = true;
  timeline.forEach((e, i) => {
    const at = `timeline[${i}]`;
    const problem = (field: string, found: string, expected: string) => {
      out.push({ path: `${at}.${field}`, found, expected });
      sound = false;
    };
    for (const field of ["date", "from", "to"] as const) {
      const date = e[field];
      if (date === undefined) continue;
      const day = dayOf(s.startDate, date);
      if (day < 0 || day > lastDay) problem(field, date, `a date inside the run, ${s.startDate} to ${lastDate}`);
    }
    if (e.from !== undefined && e.to !== undefined && !(e.from < e.to)) problem("to", e.to, `a date after from (${e.from})`);
    if (i > 0 && firstDate(e) < firstDate(timeline[i - 1])) {
      problem(e.date ? "date" : "from", firstDate(e), `a date on or after timeline[${i - 1}]'s (${firstDate(timeline[i - 1])}): entries in date order`);
    }
    if (e.id !== undefined && timeline.findIndex((x) => x.id === e.id) < i) problem("id", JSON.stringify(e.id), "an id not used by an earlier entry");
    const r = resolvePath(s, e.path);
    if ("error" in r) return problem("path", JSON.stringify(e.path), `the path of a value in this scenario (${r.error})`);
    const value = getAt(s, r.keys);
    const why = fixedForTheRun(r.keys, value);
    if (why) return problem("path", JSON.stringify(e.path), `a value a timeline may change (${pathString(r.keys)} is fixed for the run: ${why})`);
    if (e.ramp && typeof value !== "number") problem("path", JSON.stringify(e.path), `the path of a number for a ramp (it holds ${JSON.stringify(value)})`);
    if ((e.add ?? e.remove) !== undefined && !(Array.isArray(value) && value.every((x) => typeof x === "string"))) {
      problem("path", JSON.stringify(e.path), `the path of a list of names for ${e.add !== undefined ? "add" : "remove"} (it holds ${JSON.stringify(value)})`);
    }
    const start = dayOf(s.startDate, firstDate(e));
    checkDays.add(start);
    if (e.ramp && e.to) checkDays.add(start + 1).add(dayOf(s.startDate, e.to));
  });
  if (!sound) return out;
  // Each day's scenario, validated (without its timeline, checked above); a problem is laid on the
  // last entry by then that changed its path or a path inside it, else on the last entry by then.
  const entries = compile(s);
  const seen = new Set<string>();
  for (const day of [...checkDays].sort((a, b) => a - b)) {
    const inForce = entries.map((e, i) => ({ path: pathString(e.keys), i })).filter(({ i }) => entries[i].start <= day).reverse();
    const on = dateOn(s.startDate, day);
    for (const p of validate({ ...scenarioOn(s, day), timeline: undefined })) {
      const by = inForce.find(({ path }) => p.path === path || p.path.startsWith(path + ".") || p.path.startsWith(path + "["));
      const problem: Problem = by
        ? { path: `timeline[${by.i}].${changeOf(timeline[by.i])}`, found: timeline[by.i].ramp ? `${p.found} on ${on}` : p.found, expected: p.expected }
        : { path: `timeline[${inForce[0].i}]`, found: `${p.path}: ${p.found} on ${on}`, expected: p.expected };
      const key = JSON.stringify(problem);
      if (!seen.has(key)) out.push(problem);
      seen.add(key);
    }
  }
  return out;
}

