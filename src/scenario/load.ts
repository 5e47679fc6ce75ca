// Loading a scenario: YAML text -> validated, defaulted Scenario, or a list of problems that
// each name the field path, the value found and what was expected.
import { resolve } from "node:path";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { MAX_LISTS, ScenarioSchema, type Scenario } from "./schema.js";
import { metricKeys } from "../metrics/summary.js";
import { dailyMetricSets } from "../model/regime.js";
import { columnName } from "../engine/counters.js";
import { KIND_SUM_IDS } from "../metrics/list-metrics.js";
import { runLimitProblems } from "./limits.js";
import { resolveExtends } from "./overlay.js";
import { dateOn, firstReportedDay, scenarioOn, timelineProblems } from "./timeline.js";
import { getAt, pathString, resolvePath } from "./paths.js";
import { FileRefused, readUserText } from "../io/read-file.js";
export { pathString };

/**
 * Larger files are refused unread. The bundled scenarios are 7-20 KB; the YAML parser needs up
 * to ~6 ms per KB of adversarial text, so this also bounds the time one file can take (~2 s).
 */
export const MAX_SCENARIO_BYTES = 256 * 1024;
/** Deepest nesting of flow collections allowed ([ and {); real scenarios use 3. */
const MAX_FLOW_DEPTH = 64;
/** Alias expansions allowed when resolving YAML aliases (a "billion laughs" file needs millions). */
const MAX_ALIAS_COUNT = 100;

export interface LoadOptions {
  /** Refuse a scenario whose population and days this machine cannot simulate (default true). */
  checkLimits?: boolean;
  /** The file the text came from: where an `extends:` path is resolved (default: ./scenario.yaml). */
  file?: string;
}

export interface Problem {
  path: string;
  found: string;
  expected: string;
}

export class ScenarioError extends Error {
  constructor(public source: string, public problems: Problem[]) {
    super(`${source}: ${problems.length} problem(s)\n` + problems.map(formatProblem).join("\n"));
    this.name = "ScenarioError";
  }
}

export const formatProblem = (p: Problem): string => `  ${p.path || "(root)"}: found ${p.found}, expected ${p.expected}`;

const showValue = (v: unknown): string => {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + "..." : s;
};


function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const k of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** Zod issues as problems: field path, value found, what was expected (also used for experiment files). */
export function zodProblems(error: z.ZodError, input: unknown): Problem[] {
  const out: Problem[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        out.push({ path: pathString([...issue.path, key]), found: showValue(valueAt(input, [...issue.path, key])), expected: "no such key (unknown keys are errors)" });
      }
      continue;
    }
    out.push({ path: pathString(issue.path), found: showValue(valueAt(input, issue.path)), expected: expectedText(issue) });
  }
  return out;
}

function expectedText(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type": return `a value of type ${issue.expected}`;
    case "too_small": return `${issue.origin === "array" ? "a list of length" : "a value"} ${issue.inclusive ? ">=" : ">"} ${String(issue.minimum)}`;
    case "too_big": return `${issue.origin === "array" ? "a list of length" : "a value"} ${issue.inclusive ? "<=" : "<"} ${String(issue.maximum)}`;
    case "invalid_value": return `one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    default: return issue.message;
  }
}

/** Rules that span fields: ids that must exist, shares that must add up. */
function crossProblems(s: Scenario): Problem[] {
  const out: Problem[] = [];
  const behaviourIds = new Set(s.behaviours.map((b) => b.id));
  const unique = (ids: string[], path: string) => {
    const seen = new Set<string>();
    ids.forEach((v, i) => {
      if (seen.has(v)) out.push({ path: `${path}[${i}]`, found: showValue(v), expected: "an id not used before in this list" });
      seen.add(v);
    });
  };
  unique(s.behaviours.map((b) => b.id), "behaviours");
  unique(s.lists.map((l) => l.id), "lists");
  unique(s.population.groups.map((g) => g.id), "population.groups");
  unique(s.population.regions.map((r) => r.name), "population.regions");
  const groupShare = s.population.groups.reduce((a, g) => a + g.share, 0);
  if (groupShare > 1) out.push({ path: "population.groups", found: `shares adding to ${groupShare}`, expected: "shares adding to at most 1" });
  const regionNames = new Set(s.population.regions.map((r) => r.name));
  s.population.groups.forEach((g, i) => {
    for (const r of Object.keys(g.shareByRegion ?? {})) {
      if (!regionNames.has(r)) out.push({ path: `population.groups[${i}].shareByRegion.${r}`, found: showValue(r), expected: "the name of a region in population.regions" });
    }
    for (const b of Object.keys(g.rates)) {
      if (!behaviourIds.has(b)) out.push({ path: `population.groups[${i}].rates.${b}`, found: showValue(b), expected: `the id of a behaviour in behaviours (group ${g.id} names a behaviour the scenario does not have)` });
    }
  });
  const ageShare = s.population.ageBands.reduce((a, b) => a + b.share, 0);
  if (Math.abs(ageShare - 1) > 1e-6) out.push({ path: "population.ageBands", found: `shares adding to ${ageShare}`, expected: "shares adding to 1" });
  if (s.scoring.min > s.scoring.max) out.push({ path: "scoring.min", found: showValue(s.scoring.min), expected: `a value <= scoring.max (${s.scoring.max})` });
  if (s.scoring.initial < s.scoring.min || s.scoring.initial > s.scoring.max) {
    out.push({ path: "scoring.initial", found: showValue(s.scoring.initial), expected: `a value between scoring.min and scoring.max (${s.scoring.min}..${s.scoring.max})` });
  }
  if (s.lists.length > MAX_LISTS) {
    const generated = s.lists.filter((l) => l.family !== undefined).length;
    out.push({ path: "lists", found: `${s.lists.length} lists (${s.lists.length - generated} written, ${generated} from listFamilies)`, expected: `at most ${MAX_LISTS} lists` });
  }
  const families = new Set((s.listFamilies ?? []).map((f) => f.id));
  s.lists.forEach((l, i) => {
    const p = `lists[${i}]`;
    l.regions?.forEach((r, j) => {
      if (!regionNames.has(r)) out.push({ path: `${p}.regions[${j}]`, found: showValue(r), expected: `the name of a region in population.regions (list ${l.id} covers only the regions it names)` });
    });
    if (KIND_SUM_IDS.includes(l.id)) out.push({ path: `${p}.id`, found: showValue(l.id), expected: "another id (the daily tables' sums over all blacklists and redlists are named so)" });
    if (l.family !== undefined && !families.has(l.family)) out.push({ path: `${p}.family`, found: showValue(l.family), expected: "nothing (set at load on the lists a listFamilies entry generates)" });
    l.entry.acts.forEach((a, j) => {
      if (!behaviourIds.has(a)) out.push({ path: `${p}.entry.acts[${j}]`, found: showValue(a), expected: "the id of a behaviour in behaviours" });
    });
    if (l.kind === "black") {
      if (l.entry.scoreAtLeast !== undefined) out.push({ path: `${p}.entry.scoreAtLeast`, found: showValue(l.entry.scoreAtLeast), expected: "nothing on a blacklist (use scoreBelow)" });
      if (l.entry.scoreBelow === undefined && l.entry.acts.length === 0 && !l.entry.firms) out.push({ path: `${p}.entry`, found: showValue(l.entry), expected: "scoreBelow, acts and/or firms" });
      if (l.privileges.length) out.push({ path: `${p}.privileges`, found: showValue(l.privileges), expected: "no privileges on a blacklist" });
    } else {
      if (l.entry.scoreAtLeast === undefined) out.push({ path: `${p}.entry.scoreAtLeast`, found: "nothing", expected: "a score threshold for a redlist" });
      if (l.entry.scoreBelow !== undefined || l.entry.acts.length || l.entry.firms) out.push({ path: `${p}.entry`, found: showValue(l.entry), expected: "only scoreAtLeast on a redlist" });
      if (l.sanctions.length) out.push({ path: `${p}.sanctions`, found: showValue(l.sanctions), expected: "no sanctions on a redlist" });
    }
  });
  // A face in view is matched right, matched wrong, or not matched: the two rates share one draw.
  const cam = s.observation.cameras;
  if (cam.trueMatchRate + cam.falseMatchRate > 1 + 1e-12) {
    out.push({ path: "observation.cameras.falseMatchRate", found: showValue(cam.falseMatchRate), expected: `at most 1 - trueMatchRate (${+(1 - cam.trueMatchRate).toFixed(6)})` });
  }
  const att = s.observation.attention;
  if (att.enabled && !behaviourIds.has(att.behaviour)) {
    out.push({ path: "observation.attention.behaviour", found: showValue(att.behaviour), expected: "the id of a behaviour in behaviours" });
  }
  s.calibration?.parameters.forEach((c, i) => {
    const p = `calibration.parameters[${i}]`;
    const r = resolvePath(s, c.path);
    if ("error" in r) out.push({ path: `${p}.path`, found: showValue(c.path), expected: `the path of a number in this scenario (${r.error})` });
    else if (r.keys[0] === "lists" && typeof r.keys[1] === "number" && s.lists[r.keys[1]]?.family !== undefined) {
      // Each evaluation parses the scenario again, and the family generates its lists afresh.
      const family = s.lists[r.keys[1]].family;
      out.push({ path: `${p}.path`, found: showValue(c.path), expected: `a path outside the lists generated from listFamilies (${s.lists[r.keys[1]].id} is family ${family}'s: calibrate listFamilies.${family}.${r.keys.slice(2).join(".")})` });
    } else if (typeof getAt(s, r.keys) !== "number") out.push({ path: `${p}.path`, found: showValue(c.path), expected: `the path of a number (it holds ${showValue(getAt(s, r.keys))})` });
    if (!(c.min < c.max)) out.push({ path: `${p}.min`, found: showValue(c.min), expected: `a value below max (${c.max})` });
  });
  // A seed named twice would weigh its draw double in every evaluation's mean.
  s.calibration?.seeds.forEach((seed, i, seeds) => {
    if (seeds.indexOf(seed) < i) out.push({ path: `calibration.seeds[${i}]`, found: showValue(seed), expected: "a seed not already in the list" });
  });
  if (s.calibration && !s.targets.length) out.push({ path: "targets", found: "no targets", expected: "targets for calibration to fit" });
  const keys = new Set(metricKeys(s));
  const dailyKeys = new Set(dailyMetricSets(s).flatMap((set) => Object.values(set).map((m) => columnName(m.name))));
  const lastDate = dateOn(s.startDate, s.days - 1);
  if (s.reportFrom !== undefined && (s.reportFrom < s.startDate || s.reportFrom > lastDate)) {
    out.push({ path: "reportFrom", found: s.reportFrom, expected: `a date inside the run, ${s.startDate} to ${lastDate} (the days before it are the warm-up)` });
  }
  const figure = (field: "targets" | "checks") => (t: Scenario["targets"][number], i: number) => {
    const p = `${field}[${i}]`;
    if (t.at !== undefined || t.from !== undefined) {
      if (t.at === undefined) out.push({ path: `${p}.from`, found: showValue(t.from), expected: "a from only with an at (the date a dated target is judged on)" });
      for (const k of ["at", "from"] as const) {
        const d = t[k];
        if (d !== undefined && (d < s.startDate || d > lastDate)) out.push({ path: `${p}.${k}`, found: d, expected: `a date inside the run, ${s.startDate} to ${lastDate}` });
      }
      if (t.at !== undefined && t.from !== undefined && t.from > t.at) out.push({ path: `${p}.from`, found: t.from, expected: `a date on or before at (${t.at})` });
      if (!dailyKeys.has(t.metric)) {
        const near = [...dailyKeys].filter((k) => k.startsWith(t.metric.split("_")[0])).slice(0, 4);
        out.push({ path: `${p}.metric`, found: showValue(t.metric), expected: `a column of the daily table (a dated target), such as ${(near.length ? near : ["entries_<list id>", "blocked_flights"]).join(", ")}` });
      }
      return;
    }
    if (!keys.has(t.metric)) {
      const near = [...keys].filter((k) => k.split(".")[0] === t.metric.split(".")[0]).slice(0, 4);
      out.push({ path: `${p}.metric`, found: showValue(t.metric), expected: `a summary metric key such as ${(near.length ? near : ["listed_share.<list id>", "blocked_per_capita.flights", "chilling"]).join(", ")}` });
    }
  };
  s.targets.forEach(figure("targets"));
  s.checks.forEach(figure("checks"));
  return out;
}

/** Validate already-parsed data (a plain object) and return the defaulted scenario. */
export function parseScenario(data: unknown, source = "scenario"): Scenario {
  const { scenario, problems } = scenarioProblems(data);
  if (!scenario || problems.length) throw new ScenarioError(source, problems);
  const timeline = timelineProblems(scenario, (d) => scenarioProblems(d).problems);
  if (timeline.length) throw new ScenarioError(source, timeline);
  return scenario;
}

/** The schema's problems with plain data, or (when it parses) the defaulted scenario and the cross-field problems. */
function scenarioProblems(data: unknown): { scenario?: Scenario; problems: Problem[] } {
  const result = ScenarioSchema.safeParse(data);
  if (!result.success) return { problems: zodProblems(result.error, data) };
  const problems = expandListFamilies(result.data);
  return { scenario: result.data, problems: problems.length ? problems : crossProblems(result.data) };
}

/** A region's name as part of a list id: `Inner Mongolia` -> `inner-mongolia`. */
const idPart = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "region";

/**
 * Append to s.lists the lists each listFamilies entry generates, in family order, then region
 * order (population.regions), then k: `<family>-<region>-<k>`, covering that region only. The
 * lists a family generated before are replaced, so that parsing a parsed scenario again (a run's
 * options, a calibration's values) gives the same lists. Returns the problems with the families.
 */
function expandListFamilies(s: Scenario): Problem[] {
  if (!s.listFamilies) return [];
  const out: Problem[] = [];
  const regions = s.population.regions.map((r) => r.name);
  const generated: Scenario["lists"] = [];
  s.listFamilies.forEach((family, f) => {
    const { id, count, perRegion, reported, ...rule } = family;
    for (const name of Object.keys(perRegion)) {
      if (!regions.includes(name)) out.push({ path: `listFamilies[${f}].perRegion.${name}`, found: showValue(name), expected: `the name of a region in population.regions (family ${id})` });
    }
    for (const region of regions) {
      for (let k = 1; k <= (perRegion[region] ?? count); k++) {
        generated.push({ ...structuredClone(rule), id: `${id}-${idPart(region)}-${k}`, regions: [region], reported, family: id });
      }
    }
  });
  const ids = new Set(s.listFamilies.map((family) => family.id));
  const written = s.lists.filter((l) => l.family === undefined || !ids.has(l.family));
  if (written.length + generated.length > MAX_LISTS) {
    out.push({ path: "listFamilies", found: `${generated.length} lists generated beside ${written.length} written`, expected: `at most ${MAX_LISTS} lists in all` });
  }
  if (!out.length) s.lists = [...written, ...generated];
  return out;
}

/**
 * Deepest nesting of flow collections ([ and {) outside comments and quoted scalars. The YAML
 * parser takes seconds over a megabyte of "[[[[", so such text is refused before parsing.
 */
function flowDepth(text: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    const prev = i === 0 ? "\n" : text[i - 1];
    if (ch === "#" && (prev === " " || prev === "\t" || prev === "\n")) {
      const nl = text.indexOf("\n", i);
      if (nl < 0) break;
      i = nl;
    } else if ((ch === '"' || ch === "'") && " \t\n[{,:-".includes(prev)) {
      // A quoted scalar: skip to its closing quote ('' and \" escape one inside).
      for (i++; i < text.length; i++) {
        if (ch === '"' && text[i] === "\\") i++;
        else if (text[i] === ch) {
          if (ch === "'" && text[i + 1] === "'") i++;
          else break;
        }
      }
    } else if (ch === "[" || ch === "{") max = Math.max(max, ++depth);
    else if ((ch === "]" || ch === "}") && depth > 0) depth--;
  }
  return max;
}

/** YAML text -> plain data, or a ScenarioError naming the line (also used for experiment files). */
export function parseYamlData(text: string, source = "scenario"): unknown {
  if (text.length > MAX_SCENARIO_BYTES) {
    throw new ScenarioError(source, [{ path: "", found: `${text.length.toLocaleString("en-US")} characters`, expected: `a scenario of at most ${MAX_SCENARIO_BYTES.toLocaleString("en-US")} characters` }]);
  }
  const depth = flowDepth(text);
  if (depth > MAX_FLOW_DEPTH) {
    throw new ScenarioError(source, [{ path: "", found: `[ and { nested ${depth} deep`, expected: `a YAML scenario nested at most ${MAX_FLOW_DEPTH} levels deep` }]);
  }
  let data: unknown;
  try {
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    if (doc.errors.length) {
      throw new ScenarioError(source, doc.errors.slice(0, 20).map((e) => ({ path: `line ${e.linePos?.[0].line ?? "?"}`, found: e.code, expected: "well-formed YAML: " + e.message.split("\n")[0] })));
    }
    try {
      data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      // Unresolved aliases and alias bombs surface here, after parsing succeeded.
      throw new ScenarioError(source, [{ path: "", found: "YAML aliases that cannot be resolved", expected: "well-formed YAML: " + (e as Error).message.split("\n")[0] }]);
    }
  } catch (e) {
    if (e instanceof ScenarioError) throw e;
    // The parser recurses per nesting level: thousands of nested [ or { overflow the stack.
    if (e instanceof RangeError) throw new ScenarioError(source, [{ path: "", found: "nesting too deep to parse", expected: "a YAML scenario nested a few levels deep" }]);
    throw e;
  }
  return data;
}

/**
 * Why `data` does not look like a Credence scenario (undefined when it does): a mapping of
 * scenario fields only, with the required name, population and behaviours, or `extends`. Only
 * a file that looks like one may have its values shown in an error: any other file an
 * `extends:` names (a kubeconfig, a .env as YAML) is named without a word of its contents.
 */
export function notScenarioReason(data: unknown): string | undefined {
  if (data === null || typeof data !== "object" || Array.isArray(data)) return "its top level is not a mapping";
  const keys = Object.keys(data);
  const unknown = keys.filter((k) => k !== "extends" && !Object.hasOwn(ScenarioSchema.shape, k)).length;
  if (unknown) return `${unknown} of its top-level keys ${unknown === 1 ? "is not a scenario field" : "are not scenario fields"}`;
  if (!keys.includes("extends") && !["name", "population", "behaviours"].every((k) => keys.includes(k))) return "it lacks name, population or behaviours";
  return undefined;
}

/**
 * A scenario file an `extends:` (or an experiment) names, as plain data, or an Error whose
 * message names the problem without echoing the file: YAML errors give their line and code
 * only, and a file that does not look like a scenario is not validated further.
 */
export function readScenarioData(file: string): unknown {
  const text = readUserText(file, { maxBytes: MAX_SCENARIO_BYTES, followSymlinks: false });
  let data: unknown;
  try {
    data = parseYamlData(text, file);
  } catch (e) {
    if (!(e instanceof ScenarioError)) throw e;
    // Lines and error codes only: the parser's messages may quote the text.
    throw new Error(`not well-formed YAML (${e.problems.slice(0, 5).map((p) => (p.path ? `${p.path}: ${p.found}` : p.found)).join("; ")})`);
  }
  const reason = notScenarioReason(data);
  if (reason) throw new Error(`does not look like a Credence scenario (${reason})`);
  return data;
}

/** Parse and validate scenario text, resolving `extends:` from options.file. */
export function parseScenarioText(text: string, source = "scenario", options: LoadOptions = {}): Scenario {
  const { data, problems } = resolveExtends(parseYamlData(text, source), options.file ?? resolve("scenario.yaml"), readScenarioData);
  if (problems.length) throw new ScenarioError(source, problems);
  const scenario = parseScenario(data, source);
  if (options.checkLimits ?? true) {
    const problems = runLimitProblems(scenario);
    if (problems.length) throw new ScenarioError(source, problems);
  }
  return scenario;
}

export function loadScenario(path: string, options: LoadOptions = {}): Scenario {
  let text: string;
  try {
    text = readUserText(path, { maxBytes: MAX_SCENARIO_BYTES });
  } catch (e) {
    if (e instanceof FileRefused) throw new ScenarioError(path, [{ path: "", found: e.message, expected: `a YAML scenario file of at most ${MAX_SCENARIO_BYTES.toLocaleString("en-US")} bytes` }]);
    throw e;
  }
  return parseScenarioText(text, path, { ...options, file: resolve(path) });
}

/**
 * A warm-started scenario's reported regime as a plain one-year run: the rules in force on its
 * first reported day, from that day, with no warm-up and no timeline (china-2018 is the year 2018
 * of a run from 2013: the benchmark and tests of a mechanism want 2018's rules from the first day).
 * A scenario without a warm-up is returned as it is.
 */
export function reportedYear(s: Scenario): Scenario {
  if (s.reportFrom === undefined) return s;
  const { timeline: _timeline, reportFrom: _reportFrom, ...rules } = scenarioOn(s, firstReportedDay(s));
  const startDate = s.reportFrom;
  // A dated figure counted since the warm-up began cannot be judged on the year alone.
  const inYear = (t: Scenario["targets"][number]) => t.at === undefined || (t.from ?? s.startDate) >= startDate;
  return parseScenario({ ...rules, startDate, days: 365, targets: rules.targets.filter(inYear), checks: rules.checks.filter(inYear), calibration: undefined }, `${s.name}, its reported year`);
}
