// The trail: every act, observation, point, listing, appeal and dropped tie of the sampled
// citizens, as growable columns. Callers check trail-sample membership first (isSampled, a
// hash of the id), so unsampled citizens cost a few multiplies.
import { SANCTIONS, PRIVILEGES } from "../scenario/schema.js";
import { type Table } from "../io/table.js";
import { int32Column, float64Column } from "../engine/columns.js";
import { permute, stableOrder } from "../engine/order.js";

export const TRAIL_EVENTS = [
  "act", "observed", "points", "association", "listed", "delisted", "appeal-filed", "appeal-decided",
  "tie-dropped", "blocked", "granted", "expiry", "decay", "pull", "correction",
] as const;
export type TrailEvent = (typeof TRAIL_EVENTS)[number];
export const EV = Object.fromEntries(TRAIL_EVENTS.map((e, i) => [e, i])) as Record<TrailEvent, number>;

export const OBS_KINDS = ["true", "misattributed", "invented"] as const;
export const TRUE = 0, MISATTRIBUTED = 1, INVENTED = 2;
/**
 * Not an observation the system made: the real actor's side of a misattributed one, held against
 * the actor so that their error-free score is charged as a correct channel would have charged it.
 * It moves only the ground truth (never the record, the trail or the observation counts).
 */
export const REAL_ACTOR = 3;

/** Reasons, outcomes and consequences, shared by the trail's detail column and the list event log. */
export const DETAILS = [
  "score-below", "act", "score-at-least", "payment", "duration", "score-recovered", "score-fell",
  "appeal-won", "appeal-lost", "withdrawn", "household", "friend", "firm", "really-did-it",
  "did-not-happen", "dropped-by-contact", "dropped-contact", ...SANCTIONS, ...PRIVILEGES,
] as const;
export type Detail = (typeof DETAILS)[number];
export const DT = Object.fromEntries(DETAILS.map((e, i) => [e, i])) as Record<Detail, number>;

export interface TrailRow {
  event: number;
  behaviour?: number;
  channel?: number;
  kind?: number;
  other?: number;
  points?: number;
  list?: number;
  detail?: number;
  /** Listings and appeal decisions: 1 if the listing is wrong by ground truth, else 0. */
  wrongful?: number;
}

const FIELDS = ["agent", "day", "event", "behaviour", "channel", "kind", "other", "points", "score", "list", "detail", "wrongful"] as const;
/** Trail rows as plain columns, to move them between threads. */
export type TrailColumns = Record<(typeof FIELDS)[number], Int32Array | Float64Array>;

export class Trail {
  agent = int32Column();
  day = int32Column();
  event = int32Column();
  behaviour = int32Column();
  channel = int32Column();
  kind = int32Column();
  other = int32Column();
  points = float64Column();
  score = float64Column();
  list = int32Column();
  detail = int32Column();
  wrongful = int32Column();

  record(agent: number, day: number, score: number, r: TrailRow): void {
    this.agent.push(agent);
    this.day.push(day);
    this.event.push(r.event);
    this.behaviour.push(r.behaviour ?? -1);
    this.channel.push(r.channel ?? -1);
    this.kind.push(r.kind ?? -1);
    this.other.push(r.other ?? -1);
    this.points.push(r.points ?? NaN);
    this.score.push(score);
    this.list.push(r.list ?? -1);
    this.detail.push(r.detail ?? -1);
    this.wrongful.push(r.wrongful ?? -1);
  }

  get rows(): number {
    return this.agent.length;
  }

  /** The rows so far, copied out; the trail starts again empty. */
  take(): TrailColumns {
    const out = {} as TrailColumns;
    for (const f of FIELDS) {
      out[f] = this[f].view().slice();
      this[f].length = 0;
    }
    return out;
  }

  append(rows: TrailColumns): void {
    for (const f of FIELDS) this[f].append(rows[f]);
  }

  /**
   * Rows grouped by citizen, each citizen's in the order they happened. Shards record their
   * citizens' rows in parallel, so only the order within a citizen is the same for any number
   * of threads; the grouping makes the table the same too.
   */
  private sortByAgent(): void {
    const order = stableOrder(this.agent.data, this.rows);
    for (const f of FIELDS) permute(this[f].data, order);
  }

  table(labels: { dates: string[]; behaviours: string[]; channels: readonly string[]; lists: string[] }): Table {
    this.sortByAgent();
    const seq = new Int32Array(this.rows);
    for (let i = 0; i < seq.length; i++) seq[i] = i;
    return {
      name: "trail",
      description: "Everything that happened to each sampled synthetic citizen, in order (see citizens for who is sampled)",
      rows: this.rows,
      columns: [
        { name: "agent", description: "Citizen id", type: "INTEGER", data: this.agent.view() },
        { name: "day", description: "Day of the run (0 = startDate)", type: "INTEGER", data: this.day.view() },
        { name: "date", description: "Calendar date", type: "CODE", labels: labels.dates, data: this.day.view() },
        { name: "seq", description: "Order of events (within a citizen, the order they happened)", type: "INTEGER", data: seq },
        { name: "event", description: TRAIL_EVENTS.join(", "), type: "CODE", labels: TRAIL_EVENTS, data: this.event.view() },
        { name: "behaviour", description: "Behaviour id (acts, observations, points)", type: "CODE", labels: labels.behaviours, data: this.behaviour.view() },
        { name: "channel", description: "Observation channel", type: "CODE", labels: labels.channels, data: this.channel.view() },
        { name: "kind", description: "Observations: true, misattributed (someone else did it) or invented (nobody did)", type: "CODE", labels: OBS_KINDS, data: this.kind.view() },
        { name: "other", description: "The other citizen involved: the real actor of a misattributed observation, the source of an association charge, the friend who dropped the tie", type: "INTEGER", data: this.other.view(), nullValue: -1 },
        { name: "points", description: "Change of score caused by the event", type: "DOUBLE", data: this.points.view() },
        { name: "score", description: "Score after the event", type: "DOUBLE", data: this.score.view() },
        { name: "list", description: "List concerned", type: "CODE", labels: labels.lists, data: this.list.view() },
        { name: "detail", description: "Reason or outcome (for tie-dropped: dropped-by-contact on the listed person's row, dropped-contact on the friend's)", type: "CODE", labels: DETAILS, data: this.detail.view() },
        { name: "wrongful", description: "Listings and appeal decisions: 1 if the listing is wrong by ground truth, 0 if not", type: "INTEGER", data: this.wrongful.view(), nullValue: -1 },
      ],
    };
  }
}
