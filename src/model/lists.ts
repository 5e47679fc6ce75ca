// Blacklists and redlists: entry by score threshold, directly by an observed act, or through a
// blacklisted firm the person represents; and the ways off (score recovered, time served,
// paying what is owed, the firm cleared, a won appeal).
//
// Beside each list the error-free record keeps a list of its own (`truth`): the same rules (entry,
// minimum stay, duration, payment, firms) applied to what every channel would have recorded had
// none erred: the error-free score (model/scoring.ts), the acts people really did that a channel
// saw, charged to whoever did them, and the firms' error-free scores. A listing is wrongful on a
// day when the person is on the list and not on its error-free twin that day (`isWrongful`, the
// one definition every table, metric and view uses).
import type { ListRule } from "../scenario/schema.js";
import { int32Column } from "../io/table.js";
import { EV, DT, TRUE, REAL_ACTOR } from "../metrics/trail.js";
import { READ_AHEAD, record, type Phase, type Sim } from "./context.js";
import { restoreColumns, saveColumns } from "../engine/checkpoint.js";
import { IdMap } from "../engine/id-map.js";
import { hashInts, hashStep, nameId } from "../engine/random.js";

/** People on a list, as parallel columns with swap-removal; pos maps a citizen to their row (-1: not on it). */
export interface Roster {
  members: number[];
  since: number[];
  reason: number[];
  /** Day the person paid what was owed (-1: not yet). */
  paidDay: number[];
  pos: IdMap;
}

const emptyRoster = (): Roster => ({ members: [], since: [], reason: [], paidDay: [], pos: new IdMap() });

function addTo(r: Roster, i: number, day: number, reason: number): void {
  r.pos.set(i, r.members.length);
  r.members.push(i);
  r.since.push(day);
  r.reason.push(reason);
  r.paidDay.push(-1);
}

/** Remove row p of r and of `more` (columns alongside), moving the last row into its place. */
function removeRow(r: Roster, p: number, more: number[][] = []): void {
  const i = r.members[p], last = r.members.length - 1, moved = r.members[last];
  for (const col of [r.members, r.since, r.reason, r.paidDay, ...more]) {
    col[p] = col[last];
    col.pop();
  }
  r.pos.delete(i);
  if (moved !== i) r.pos.set(moved, p);
}

export interface ListState extends Roster {
  index: number;
  rule: ListRule;
  black: boolean;
  /** Per behaviour, 1 if observing it lists a person directly (looked up for every observation). */
  acts: Uint8Array;
  /** 1 while the listing is wrongful (the person is not on `truth`). */
  wrongful: number[];
  viaAssoc: number[];
  /** The error-free record's list under the same rules. */
  truth: Roster;
  /** Listings made (a person who leaves and comes back is counted twice). */
  entries: number;
  /** Listings ended. */
  exits: number;
  /** Distinct people ever on the list. */
  ever: IdMap;
  m: { on: number; wrongful: number; via: number; entries: number; exits: number; cleared: number; clearDays: number; truthOn: number };
}

/** The list event log: one row per entry or exit, for everyone (not only the trail sample). */
export class ListLog {
  day = int32Column();
  agent = int32Column();
  list = int32Column();
  entered = int32Column();
  reason = int32Column();
  wrongful = int32Column();
  viaAssoc = int32Column();
  daysOnList = int32Column();
}

export interface Lists {
  states: ListState[];
  log: ListLog;
  exit(L: ListState, agent: number, reason: number): void;
  /**
   * A firm that `agent` represents joined (+1) or left (-1) the firm blacklist, on the record or,
   * with `truth`, in the error-free record: their listing on every list with entry.firms follows.
   */
  firmListing(agent: number, change: 1 | -1, truth: boolean): void;
}

/** The one definition: a listing is wrongful while the error-free record does not have the person on that list. */
export const isWrongful = (L: ListState, i: number): number => (L.truth.pos.has(i) ? 0 : 1);

export function listsPhase(sim: Sim): Phase & { lists: Lists } {
  const { s, c, behaviours } = sim;
  const M = sim.metrics;
  const on = s.mechanisms.lists;
  const states: ListState[] = (on ? s.lists : []).map((rule, index) => ({
    index, rule, black: rule.kind === "black",
    acts: Uint8Array.from(behaviours, (b) => (rule.entry.acts.includes(b.id) ? 1 : 0)),
    ...emptyRoster(), wrongful: [], viaAssoc: [], truth: emptyRoster(),
    entries: 0, exits: 0, ever: new IdMap(),
    m: {
      on: M.declare(`on_${rule.id}`, `People on ${rule.id} at the end of the day`, true),
      wrongful: M.declare(`wrongful_${rule.id}`, `Of them, listed wrongly: not on the list the error-free record keeps under the same rules`, true),
      via: M.declare(`via_association_${rule.id}`, `Of them, listed only because of association charges`, true),
      entries: M.declare(`entries_${rule.id}`, `Entries to ${rule.id}`),
      exits: M.declare(`exits_${rule.id}`, `Exits from ${rule.id}`),
      cleared: M.declare(`cleared_wrongful_${rule.id}`, `Listings on ${rule.id} that ended while wrongful`),
      clearDays: M.declare(`days_to_clear_wrongful_${rule.id}`, `Days those listings lasted (sum)`),
      truthOn: M.declare(`error_free_on_${rule.id}`, `People the error-free record has on ${rule.id} at the end of the day`, true),
    },
  }));
  const log = new ListLog();
  // A redlist is always entered by score; a blacklist by score if it has a threshold, by act if it names acts.
  const byScore = (L: ListState) => (L.black ? L.rule.entry.scoreBelow !== undefined : true);
  const byAct = (L: ListState) => L.rule.entry.acts.length > 0;
  const median = s.population.income.median;
  const paymentKey = hashInts(nameId("payments"), sim.seed);
  // Blacklisted firms represented, per citizen, in the error-free record (few people: a map).
  const truthFirms = new IdMap();
  const firmLists = states.filter((L) => L.rule.entry.firms);

  /**
   * Read the state review() reads of people [from, to) once, in a loop without branches, and
   * discard it. Members are scattered over the ids, so nearly every read misses the cache; here
   * many misses are in flight at once, where the loop of review() (unpredictable branches) would
   * wait for them one by one. A chunk at a time (READ_AHEAD people), so that what was read is
   * still in the core's own cache when it is used: the whole of a long list is not. Only what
   * review() reads of nearly everyone on L: the income for a payment, the scores for a threshold.
   */
  let fetched = 0;
  function prefetch(L: ListState, people: number[], from: number, to: number): void {
    let sum = 0;
    if (byAct(L) && L.rule.paymentExit.enabled) for (let p = from; p < to; p++) sum += c.income[people[p]];
    if (byScore(L)) {
      for (let p = from; p < to; p++) {
        const i = people[p];
        sum += c.score[i] + c.errorFree[i] + c.assocPoints[i];
      }
    }
    fetched += sum; // kept, so that the reads are not optimised away
  }

  /** Listed only because of association charges: without them the score would not list the person. */
  function viaAssociation(L: ListState, i: number, reason: number): number {
    if (reason !== DT["score-below"] && reason !== DT["score-at-least"]) return 0;
    const v = c.score[i] - c.assocPoints[i];
    return (L.black ? v >= L.rule.entry.scoreBelow! : v < L.rule.entry.scoreAtLeast!) ? 1 : 0;
  }

  function logEvent(L: ListState, i: number, entered: boolean, reason: number, wrongful: number, via: number, days: number): void {
    log.day.push(sim.day);
    log.agent.push(i);
    log.list.push(L.index);
    log.entered.push(entered ? 1 : 0);
    log.reason.push(reason);
    log.wrongful.push(wrongful);
    log.viaAssoc.push(via);
    log.daysOnList.push(days);
  }

  function setWrongful(L: ListState, p: number, wrongful: number): void {
    if (wrongful === L.wrongful[p]) return;
    M.addStock(c.cell[L.members[p]], L.m.wrongful, wrongful - L.wrongful[p]);
    L.wrongful[p] = wrongful;
  }

  function enter(L: ListState, i: number, reason: number): void {
    const wrongful = isWrongful(L, i), via = viaAssociation(L, i, reason);
    addTo(L, i, sim.day, reason);
    L.wrongful.push(wrongful);
    L.viaAssoc.push(via);
    L.entries++;
    L.ever.set(i, 1);
    c.listMask[i] |= 1 << L.index;
    const cell = c.cell[i];
    M.addStock(cell, L.m.on, 1);
    M.addStock(cell, L.m.wrongful, wrongful);
    M.addStock(cell, L.m.via, via);
    M.add(sim.day, cell, L.m.entries, 1);
    logEvent(L, i, true, reason, wrongful, via, 0);
    record(sim, i, { event: EV.listed, list: L.index, detail: reason, wrongful });
    for (const f of sim.listeners) f({ list: L.index, agent: i, entered: true, wrongful: wrongful === 1, since: sim.day, reason });
  }

  function exit(L: ListState, i: number, reason: number): void {
    const p = L.pos.get(i);
    if (p < 0) return;
    const since = L.since[p], wrongful = L.wrongful[p], via = L.viaAssoc[p];
    removeRow(L, p, [L.wrongful, L.viaAssoc]);
    L.exits++;
    c.listMask[i] &= ~(1 << L.index);
    const cell = c.cell[i];
    M.addStock(cell, L.m.on, -1);
    M.addStock(cell, L.m.wrongful, -wrongful);
    M.addStock(cell, L.m.via, -via);
    M.add(sim.day, cell, L.m.exits, 1);
    if (wrongful) {
      M.add(sim.day, cell, L.m.cleared, 1);
      M.add(sim.day, cell, L.m.clearDays, sim.day - since);
    }
    logEvent(L, i, false, reason, wrongful, via, sim.day - since);
    record(sim, i, { event: EV.delisted, list: L.index, detail: reason, wrongful });
    for (const f of sim.listeners) f({ list: L.index, agent: i, entered: false, wrongful: wrongful === 1, since, reason });
    // Still representing a blacklisted firm: the firm keeps the person on the list (a won appeal lifts it all).
    if (L.rule.entry.firms && reason !== DT.firm && reason !== DT["appeal-won"] && c.firmRestrictions[i] > 0) enter(L, i, DT.firm);
  }

  function enterTruth(L: ListState, i: number, reason: number): void {
    addTo(L.truth, i, sim.day, reason);
    M.addStock(c.cell[i], L.m.truthOn, 1);
    const p = L.pos.get(i);
    if (p >= 0) setWrongful(L, p, 0);
  }

  function exitTruth(L: ListState, i: number, reason: number): void {
    const p = L.truth.pos.get(i);
    if (p < 0) return;
    removeRow(L.truth, p);
    M.addStock(c.cell[i], L.m.truthOn, -1);
    const q = L.pos.get(i);
    if (q >= 0) setWrongful(L, q, 1);
    if (L.rule.entry.firms && reason !== DT.firm && truthFirms.get(i, 0) > 0) enterTruth(L, i, DT.firm);
  }

  /**
   * Did the person pay what is owed today? One uniform per (day, list, person), shared by the
   * record's listing and the error-free record's: a person on both pays on the same day.
   */
  function pays(L: ListState, dayKey: number, i: number): boolean {
    const u = hashStep(dayKey, i) / 4294967296;
    return u < (L.rule.paymentExit.perYear / 365) * Math.min(2, c.income[i] / median);
  }

  /**
   * The day's ways off a roster whose scores are `score` (the record's or the error-free one):
   * time served and payment for act listings, the score for score listings. Firm listings end
   * with the firm (firmListing). Walks down, so that an exit moves only members already reviewed.
   */
  function review(L: ListState, r: Roster, score: Float32Array, leave: (L: ListState, i: number, reason: number) => void): void {
    const rule = L.rule;
    const dayKey = hashStep(hashStep(paymentKey, sim.day), L.index);
    for (let p = r.members.length - 1; p >= 0; p--) {
      if (p === r.members.length - 1 || (p + 1) % READ_AHEAD === 0) prefetch(L, r.members, p - (p % READ_AHEAD), p + 1);
      const i = r.members[p], reason = r.reason[p];
      const days = sim.day - r.since[p];
      if (reason === DT.firm) continue;
      if (reason === DT.act) {
        if (rule.paymentExit.enabled) {
          if (r.paidDay[p] < 0 && pays(L, dayKey, i)) r.paidDay[p] = sim.day;
          if (r.paidDay[p] >= 0 && sim.day - r.paidDay[p] >= rule.paymentExit.delayDays) { leave(L, i, DT.payment); continue; }
        }
        if (rule.durationDays > 0 && days >= rule.durationDays) leave(L, i, DT.duration);
        continue;
      }
      if (L.black ? score[i] >= rule.entry.scoreBelow! && days >= rule.minDays : score[i] < rule.entry.scoreAtLeast!) {
        leave(L, i, L.black ? DT["score-recovered"] : DT["score-fell"]);
      }
    }
  }

  /** Association alone may start or stop explaining a score listing as scores move. */
  function reviewVia(L: ListState): void {
    for (let p = 0; p < L.members.length; p++) {
      const via = viaAssociation(L, L.members[p], L.reason[p]);
      if (via !== L.viaAssoc[p]) { M.addStock(c.cell[L.members[p]], L.m.via, via - L.viaAssoc[p]); L.viaAssoc[p] = via; }
    }
  }

  function firmListing(i: number, change: 1 | -1, truth: boolean): void {
    if (!firmLists.length) return;
    if (truth) {
      const before = truthFirms.get(i, 0), after = before + change;
      if (after > 0) truthFirms.set(i, after); else truthFirms.delete(i);
      for (const L of firmLists) {
        if (before === 0 && after > 0 && !L.truth.pos.has(i)) enterTruth(L, i, DT.firm);
        const p = L.truth.pos.get(i);
        if (before > 0 && after === 0 && p >= 0 && L.truth.reason[p] === DT.firm) exitTruth(L, i, DT.firm);
      }
      return;
    }
    // c.firmRestrictions is kept by the firms phase; called after it changed.
    const after = c.firmRestrictions[i], before = after - change;
    for (const L of firmLists) {
      if (before === 0 && after > 0 && !L.pos.has(i)) enter(L, i, DT.firm);
      const p = L.pos.get(i);
      if (before > 0 && after === 0 && p >= 0 && L.reason[p] === DT.firm) exit(L, i, DT.firm);
    }
  }

  const lists: Lists = { states, log, exit, firmListing };
  const scoreLists = states.filter(byScore);
  const actLists = states.filter(byAct);
  // Flat copies of the score rules: this check runs for every citizen whose score moved today.
  const nScore = scoreLists.length;
  const bits = Int32Array.from(scoreLists, (L) => 1 << L.index);
  const below = Float64Array.from(scoreLists, (L) => (L.black ? L.rule.entry.scoreBelow! : -Infinity));
  const atLeast = Float64Array.from(scoreLists, (L) => (L.black ? Infinity : L.rule.entry.scoreAtLeast!));

  for (let q = 0; q < nScore; q++) {
    sim.listBelow = Math.max(sim.listBelow, below[q]);
    sim.listAtLeast = Math.min(sim.listAtLeast, atLeast[q]);
  }

  /** The score entries of i: the error-free record's first, so that a listing made today knows its twin. */
  function checkScore(i: number): void {
    const v = c.score[i], w = c.errorFree[i], mask = c.listMask[i];
    for (let q = 0; q < nScore; q++) {
      const L = scoreLists[q], reason = L.black ? DT["score-below"] : DT["score-at-least"];
      if (!(w >= below[q] && w < atLeast[q]) && !L.truth.pos.has(i)) enterTruth(L, i, reason);
      if (!(mask & bits[q]) && !(v >= below[q] && v < atLeast[q])) enter(L, i, reason);
    }
  }

  return {
    name: "lists",
    lists,
    state: {
      save: () => ({
        log: saveColumns(log),
        truthFirms: truthFirms.keys().map((i) => [i, truthFirms.get(i)]),
        states: states.map((L) => ({
          members: L.members, since: L.since, reason: L.reason, wrongful: L.wrongful, viaAssoc: L.viaAssoc, paidDay: L.paidDay,
          entries: L.entries, exits: L.exits, ever: L.ever.keys(),
          truth: { members: L.truth.members, since: L.truth.since, reason: L.truth.reason, paidDay: L.truth.paidDay },
        })),
      }),
      restore(saved) {
        type Saved = Omit<Roster, "pos"> & { wrongful: number[]; viaAssoc: number[]; entries: number; exits: number; ever: number[]; truth: Omit<Roster, "pos"> };
        const v = saved as { log: unknown; truthFirms: [number, number][]; states: Saved[] };
        restoreColumns(log, v.log);
        for (const [i, count] of v.truthFirms) truthFirms.set(i, count);
        states.forEach((L, k) => {
          const { ever, truth, ...rest } = v.states[k];
          Object.assign(L, rest);
          L.pos = IdMap.positions(L.members);
          L.truth = { ...truth, pos: IdMap.positions(truth.members) };
          L.ever = new IdMap();
          for (const i of ever) L.ever.set(i, 1);
        });
      },
    },
    day(sim) {
      // Ways off first, the record's before the error-free record's: a listing that ends today
      // ends as it stood yesterday (a person both leave the same day was not listed wrongly).
      // Entries go the other way round (below): a listing made today knows today's twin.
      for (const L of states) {
        review(L, L, c.score, exit);
        review(L, L.truth, c.errorFree, exitTruth);
        if (byScore(L)) reviewVia(L);
      }
      const obs = sim.obs;
      const { target, behaviour, kind } = { target: obs.target.data, behaviour: obs.behaviour.data, kind: obs.kind.data };
      for (const L of actLists) {
        const bit = 1 << L.index;
        // The error-free record lists whoever really did a listing act a channel saw (the target
        // of a true observation, the actor of a misattributed one, held here as REAL_ACTOR).
        for (let k = 0; k < obs.length; k++) {
          const i = target[k], kd = kind[k];
          if (L.acts[behaviour[k]] && (kd === TRUE || kd === REAL_ACTOR) && !L.truth.pos.has(i)) enterTruth(L, i, DT.act);
        }
        for (let k = 0; k < obs.length; k++) {
          const i = target[k];
          if (L.acts[behaviour[k]] && kind[k] !== REAL_ACTOR && !(c.listMask[i] & bit)) enter(L, i, DT.act);
        }
      }
      if (!scoreLists.length) return;
      if (sim.allTouched) {
        for (let i = 0; i < sim.n; i++) checkScore(i);
      } else {
        // In citizen order, once each: shards gather them in parallel, and entry order drives later draws.
        const t = sim.touched.view().sort();
        for (let k = 0; k < t.length; k++) if (k === 0 || t[k] !== t[k - 1]) checkScore(t[k]);
      }
    },
  };
}
