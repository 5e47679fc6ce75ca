// `credence explain`: the life of one synthetic citizen in a finished run, told in words: what
// they really did, what the system saw (and whether it was them), the points, the lists, the
// appeals, the friends who left, the tickets they could not buy.
import { join } from "node:path";
import { existsSync } from "node:fs";
import { fmtInt, fmtNum, fmtPct, pairs } from "./format.js";

export type Row = Record<string, unknown>;

export class ExplainError extends Error {
  constructor(message: string, public exitCode = 1) {
    super(message);
    this.name = "ExplainError";
  }
}

/** DuckDB may hand back BIGINT as bigint (COUNT(*), for one); JSON and arithmetic want numbers. */
export function plain(row: Row): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) out[k] = typeof v === "bigint" ? Number(v) : v;
  return out;
}

const str = (v: unknown): string | null => (v === null || v === undefined || v === "" ? null : String(v));
const num = (v: unknown): number | null =>
  typeof v === "number" ? (Number.isFinite(v) ? v : null)
  : typeof v === "bigint" ? Number(v)
  : v === null || v === undefined ? null
  : Number.isFinite(Number(v)) ? Number(v) : null;

const signed = (n: number): string => (n > 0 ? `+${fmtNum(n, 2)}` : fmtNum(n, 2));
const pointsText = (n: number | null): string => (n === null ? "" : `${signed(n)} point${Math.abs(n) === 1 ? "" : "s"}`);
const scoreOf = (row: Row): string | null => {
  const s = num(row.score);
  return s === null ? null : `score ${fmtNum(s, 1)}`;
};
const plural = (n: number, one: string, many = `${one}s`) => `${fmtInt(n)} ${n === 1 ? one : many}`;
const agentRef = (v: unknown): string | null => (num(v) === null ? null : `#${num(v)}`);
const words = (...parts: (string | null | undefined | false)[]): string => parts.filter((p): p is string => Boolean(p)).join(" ");
const paren = (...parts: (string | null | undefined | false)[]): string | null => {
  const inner = parts.filter((p): p is string => Boolean(p)).join("; ");
  return inner ? `(${inner})` : null;
};

/** Reasons and outcomes of the trail's detail column, in words. */
const DETAIL_TEXT: Record<string, string> = {
  "score-below": "score below the threshold",
  "score-at-least": "score reached the threshold",
  act: "an observed act",
  payment: "paid what was owed",
  duration: "the listing ran its term",
  "score-recovered": "score recovered",
  "score-fell": "score fell",
  "appeal-won": "appeal won",
  "appeal-lost": "appeal lost",
  withdrawn: "withdrawn",
  household: "household",
  friend: "friend",
  firm: "their firm",
  "really-did-it": "really did it",
  "did-not-happen": "never happened",
};
const detailText = (d: string | null): string | null => (d === null ? null : DETAIL_TEXT[d] ?? d);

/** What explain knows about the lists of the run (from the manifest's scenario). */
export interface ListInfo {
  kind?: string;
  scoreBelow?: number;
  scoreAtLeast?: number;
  acts?: string[];
}

export interface TimelineContext {
  lists: Record<string, ListInfo>;
}

/**
 * Reads a trail in order, keeping what later lines need: lists the citizen is on, and the
 * latest observation of each behaviour (the one an act-based listing follows from).
 */
class TimelineState {
  private lastObserved = new Map<string, { day: number; kind: string | null }>();
  constructor(private ctx: TimelineContext) {}

  describe(row: Row): [string, string] {
    const event = String(row.event ?? "?");
    const behaviour = str(row.behaviour);
    const channel = str(row.channel);
    const kind = str(row.kind);
    const other = agentRef(row.other);
    const list = str(row.list);
    const detail = str(row.detail);
    const pts = num(row.points);
    const day = num(row.day) ?? 0;
    const info = list ? this.ctx.lists[list] : undefined;
    const notOurs = (k: string | null) => (k === "misattributed" ? "not theirs" : k === "invented" ? "never happened" : null);

    switch (event) {
      case "act":
        return ["act", words(behaviour ?? "something", "(really did it)")];
      case "observed": {
        if (behaviour) this.lastObserved.set(behaviour, { day, kind });
        const what = `by ${channel ?? "the system"}: ${behaviour ?? "an act"}`;
        let truth: string | null = null;
        if (kind === "misattributed") truth = `— MISATTRIBUTED (really done by ${other ?? "someone else"})`;
        else if (kind === "invented") truth = "— INVENTED (never happened)";
        else if (kind === "true") truth = "(true: they did it)";
        return ["observed", words(what, truth)];
      }
      case "points":
        return ["points", words(pointsText(pts), behaviour ? `for ${behaviour}` : null, paren(scoreOf(row), notOurs(kind)))];
      case "association": {
        const relation = detailText(detail) ?? "contact";
        const why = behaviour ? `'s ${behaviour}` : "";
        return ["association", words(`${pointsText(pts)} because of ${other ?? "a contact"}${why}`, paren(relation, scoreOf(row)))];
      }
      case "listed": {
        let reason = detailText(detail);
        const wrongful = row.wrongful === 1 ? "WRONGFUL by ground truth" : null;
        if (detail === "score-below" && info?.scoreBelow !== undefined) reason = `score below ${fmtNum(info.scoreBelow)}`;
        else if (detail === "score-at-least" && info?.scoreAtLeast !== undefined) reason = `score reached ${fmtNum(info.scoreAtLeast)}`;
        else if (detail === "act") {
          // The act-based listing follows from today's observation of one of the list's acts.
          const acts = info?.acts ?? [...this.lastObserved.keys()];
          const seen = acts.map((a) => ({ a, o: this.lastObserved.get(a) })).filter((x) => x.o && x.o.day === day);
          if (seen.length) reason = `observed ${seen[0].a} (${seen[0].o!.kind})`;
        }
        return ["LISTED", words(`on ${list ?? "a list"}`, paren(reason, wrongful, scoreOf(row)))];
      }
      case "delisted":
        return ["delisted", words(`from ${list ?? "a list"}`, paren(detailText(detail), scoreOf(row)))];
      case "appeal-filed":
        return ["appeal", words("appeal filed", list ? `against ${list}` : null)];
      case "appeal-decided": {
        const outcome = detail === "appeal-won" ? "won" : detail === "appeal-lost" ? "lost" : detailText(detail);
        return ["appeal", words(`appeal decided${outcome ? `: ${outcome}` : ""}`, list ? `(${list})` : null)];
      }
      case "tie-dropped": {
        return ["tie dropped", detail === "dropped-by-contact" ? `tie dropped by ${other ?? "a contact"}` : `dropped their tie with ${other ?? "a contact"} (who is listed)`];
      }
      case "blocked":
        return ["blocked", `blocked: ${detail ?? "?"}`];
      case "granted":
        return ["granted", `granted: ${detail ?? "?"}`];
      case "expiry":
        return ["expiry", words(`${pointsText(pts)}: old points expired`, paren(scoreOf(row)))];
      case "decay":
        return ["decay", words(`${pointsText(pts)}: drift back towards the initial score`, paren(scoreOf(row)))];
      case "pull":
        return ["pull", words(`${pointsText(pts)}: pulled towards the scores of contacts`, paren(scoreOf(row)))];
      case "correction":
        return ["correction", words(`${pointsText(pts)}: record corrected`, list ? `after the appeal on ${list}` : null, paren(scoreOf(row)))];
      default: {
        const parts = [behaviour, channel, kind, other, list, pts !== null ? pointsText(pts) : null, detailText(detail)].filter(Boolean);
        return [event, words(parts.join(", "), paren(scoreOf(row)))];
      }
    }
  }
}

/** Width of the event label column in the timeline. */
const LABEL = 12;

/** Each event as [label, text] in words, in order (the dashboard's timeline uses these too). */
export function describeEvents(events: Row[], ctx: TimelineContext = { lists: {} }): [string, string][] {
  const state = new TimelineState(ctx);
  return events.map((row) => state.describe(row));
}

/** The timeline, one line per event: `2018-03-04  act          jaywalking (really did it)`. */
export function timelineLines(events: Row[], ctx: TimelineContext = { lists: {} }): string[] {
  const described = describeEvents(events, ctx);
  return events.map((row, i) => {
    const [label, text] = described[i];
    const date = str(row.date) ?? `day ${num(row.day) ?? "?"}`;
    return `${date}  ${label.padEnd(LABEL)} ${text}`.trimEnd();
  });
}

export function citizenHeader(c: Row, agent: number): string {
  const yes = (v: unknown) => (v === true ? "yes" : v === false ? "no" : "?");
  const lists = str(c.lists);
  const wrongly = c.wrongfully_listed === true;
  const grade = str(c.grade);
  const errorFree = num(c.error_free_score);
  const score = num(c.score);
  const assoc = num(c.association_points);
  const scoreLine =
    `${fmtNum(score, 1)}${grade ? `, grade ${grade}` : ""}` +
    (errorFree !== null && score !== null && errorFree !== score ? ` (${fmtNum(errorFree, 1)} had every channel been right)` : "");
  const rows: [string, string][] = [
    ["region", `${str(c.region) ?? "?"} (${c.urban === true ? "urban" : c.urban === false ? "rural" : "?"})`],
    ["group", str(c.group) ?? "majority"],
    ["age band", str(c.age_band) ?? "?"],
    ["sex", c.female === true ? "female" : c.female === false ? "male" : "?"],
    ["income", `${fmtNum(num(c.income), 1)} per day`],
    ["final score", scoreLine],
  ];
  if (assoc !== null && assoc !== 0) rows.push(["association", `${pointsText(assoc)} charged for other people's acts`]);
  rows.push(
    ["lists at end", lists ?? "none"],
    ["wrongly listed?", lists ? (wrongly ? "YES: the error-free record, under the same rules, would not list them there" : "no") : wrongly ? "yes" : "not listed"],
    ["error-free record's lists", str(c.error_free_lists) ?? "none"],
    ["friends", `${fmtInt(num(c.friends_initial))} at start, ${fmtInt(num(c.friends_final))} at end`],
    ["informant", yes(c.informant)],
    ["party member", yes(c.party_member)],
  );
  return `Synthetic citizen #${agent}\n${pairs(rows)}`;
}

/** Counts of the events that matter most, for the line under the timeline. */
function tally(events: Row[]): string {
  const count = (pred: (r: Row) => boolean) => events.filter(pred).length;
  const acts = count((r) => r.event === "act");
  const observed = count((r) => r.event === "observed");
  const wrong = count((r) => r.event === "observed" && (r.kind === "misattributed" || r.kind === "invented"));
  const listed = count((r) => r.event === "listed");
  const blocked = count((r) => r.event === "blocked");
  return (
    `${plural(events.length, "event")}: ${plural(acts, "act")} really done, ${plural(observed, "observation")} ` +
    `(${fmtInt(wrong)} not theirs or invented${observed ? `, ${fmtPct(wrong / observed, 0)}` : ""}), ` +
    `${plural(listed, "listing")}, ${plural(blocked, "blocked attempt")}`
  );
}

export interface ExplainManifest {
  status: string;
  reason?: string;
  name: string;
  population: number;
  scenario?: { lists?: { id: string; kind?: string; entry?: { scoreBelow?: number; scoreAtLeast?: number; acts?: string[] } }[] };
}

export interface ExplainDeps {
  readManifest: (dir: string, options: { allowIncomplete?: boolean }) => ExplainManifest;
  queryRows: (dbPath: string, sql: string, params?: unknown[]) => Promise<Row[]>;
}

export interface Explanation {
  citizen: Row;
  events: Row[];
  context: TimelineContext;
}

/** Load the citizen and their trail, or throw an ExplainError that says why not. */
export async function loadExplanation(runDir: string, agent: number, deps: ExplainDeps): Promise<Explanation> {
  if (!existsSync(runDir)) throw new ExplainError(`${runDir}: no such run folder`);
  let manifest: ExplainManifest;
  try {
    manifest = deps.readManifest(runDir, { allowIncomplete: true });
  } catch (e) {
    throw new ExplainError((e as Error).message);
  }
  if (manifest.status !== "complete") {
    throw new ExplainError(
      `${runDir}: the run is ${manifest.status} (${manifest.reason ?? "no reason recorded"}); ` +
        `refusing to explain it, since its results may be partial. Run the scenario again.`,
    );
  }
  const db = join(runDir, "run.duckdb");
  if (!existsSync(db)) throw new ExplainError(`${runDir}: run.duckdb is missing`);
  const citizens = (await deps.queryRows(db, `SELECT * FROM citizens WHERE agent = ?`, [agent])).map(plain);
  if (citizens.length === 0) {
    const [c] = (await deps.queryRows(db, `SELECT count(*) AS n, min(agent) AS lo, max(agent) AS hi FROM citizens`)).map(plain);
    const n = num(c?.n) ?? 0;
    const pop = manifest.population;
    const everyone = n >= pop;
    const lo = num(c?.lo);
    const hi = num(c?.hi);
    throw new ExplainError(
      `Citizen #${agent} is not in the trail sample of ${runDir}.\n` +
        `The run keeps the full trail of ${fmtInt(n)} of ${fmtInt(pop)} synthetic citizens` +
        (n > 0 && !everyone ? ` (ids between ${lo} and ${hi}, not all of them)` : "") +
        (everyone
          ? `: that is everyone, so #${agent} does not exist in this run (ids run from ${lo} to ${hi}).`
          : `. Small populations keep everyone (up to metrics.trailSample citizens); ` +
            `raise metrics.trailSample in the scenario to keep more.`) +
        `\nTo find someone to explain: SELECT agent FROM citizens (or SELECT DISTINCT agent FROM trail WHERE event = 'listed') in ${db}.`,
    );
  }
  const events = (await deps.queryRows(db, `SELECT * FROM trail WHERE agent = ? ORDER BY day, seq`, [agent])).map(plain);
  const lists: Record<string, ListInfo> = {};
  for (const l of manifest.scenario?.lists ?? []) {
    lists[l.id] = { kind: l.kind, scoreBelow: l.entry?.scoreBelow, scoreAtLeast: l.entry?.scoreAtLeast, acts: l.entry?.acts };
  }
  return { citizen: citizens[0], events, context: { lists } };
}

export function renderExplanation(x: Explanation, agent: number): string {
  const out = [citizenHeader(x.citizen, agent), ""];
  if (x.events.length === 0) out.push("No events: nothing was recorded about this citizen, and they did nothing the scenario tracks.");
  else {
    out.push("Timeline");
    out.push(...timelineLines(x.events, x.context));
    out.push("", tally(x.events));
  }
  return out.join("\n");
}
