// Blacklists and redlists: entry by score threshold or directly by an observed act, and the
// ways off (score recovered, time served, paying what is owed, a won appeal). Each listing
// carries the ground truth beside it: would the person be listed if no channel had erred?
import type { ListRule } from "../scenario/schema.js";
import { int32Column } from "../io/table.js";
import { EV, DT, TRUE } from "../metrics/trail.js";
import { READ_AHEAD, record, type Phase, type Sim } from "./context.js";
import { restoreColumns, saveColumns } from "../engine/checkpoint.js";
import { IdMap } from "../engine/id-map.js";

export interface ListState {
  index: number;
  rule: ListRule;
  black: boolean;
  /** Per behaviour, 1 if observing it lists a person directly (looked up for every observation). */
  acts: Uint8Array;
  // Members, as parallel arrays with swap-removal; pos maps a citizen to their row (-1: not a member).
  members: number[];
  since: number[];
  reason: number[];
  wrongful: number[];
  viaAssoc: number[];
  paidDay: number[];
  pos: IdMap;
  everListed: number;
  exited: number;
  m: { on: number; wrongful: number; via: number; entries: number; exits: number; cleared: number; clearDays: number };
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
}

export function listsPhase(sim: Sim): Phase & { lists: Lists } {
  const { s, c, behaviours } = sim;
  const M = sim.metrics;
  const on = s.mechanisms.lists;
  const states: ListState[] = (on ? s.lists : []).map((rule, index) => ({
    index, rule, black: rule.kind === "black",
    acts: Uint8Array.from(behaviours, (b) => (rule.entry.acts.includes(b.id) ? 1 : 0)),
    members: [], since: [], reason: [], wrongful: [], viaAssoc: [], paidDay: [], pos: new IdMap(),
    everListed: 0, exited: 0,
    m: {
      on: M.declare(`on_${rule.id}`, `People on ${rule.id} at the end of the day`, true),
      wrongful: M.declare(`wrongful_${rule.id}`, `Of them, listed wrongly: no listing had every channel been right`, true),
      via: M.declare(`via_association_${rule.id}`, `Of them, listed only because of association charges`, true),
      entries: M.declare(`entries_${rule.id}`, `Entries to ${rule.id}`),
      exits: M.declare(`exits_${rule.id}`, `Exits from ${rule.id}`),
      cleared: M.declare(`cleared_wrongful_${rule.id}`, `Wrongful listings on ${rule.id} that ended`),
      clearDays: M.declare(`days_to_clear_wrongful_${rule.id}`, `Days those wrongful listings lasted (sum)`),
    },
  }));
  const log = new ListLog();
  // A redlist is always entered by score; a blacklist by score if it has a threshold, by act if it names acts.
  const byScore = (L: ListState) => (L.black ? L.rule.entry.scoreBelow !== undefined : true);
  const byAct = (L: ListState) => L.rule.entry.acts.length > 0;
  const median = s.population.income.median;

  /**
   * Read the state review() reads of people [from, to) once, in a loop without branches, and
   * discard it. Members are scattered over the ids, so nearly every read misses the cache; here
   * many misses are in flight at once, where the loop of review() (draws, unpredictable branches)
   * would wait for them one by one. A chunk at a time (READ_AHEAD people), so that what was read
   * is still in the core's own cache when it is used: the whole of a long list is not. Only
   * what review() reads of nearly everyone on L: the income for a payment, the scores for a
   * threshold (the cell only when a count changes). At 100 M a list holds millions, and each
   * line read is a miss.
   */
  let fetched = 0;
  function prefetch(L: ListState, from: number, to: number): void {
    const people = L.members;
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

  /** Is a listing on L wrong by ground truth (bit 0), and is it due to association alone (bit 1)?
   *  Packed in a number: this runs for every member of every list every day. */
  function assess(L: ListState, i: number, reason: number, actKind: number): number {
    if (reason === DT.act) return actKind === TRUE ? 0 : 1;
    const e = L.rule.entry;
    if (L.black) {
      const t = e.scoreBelow!;
      return (c.errorFree[i] >= t ? 1 : 0) | (c.score[i] - c.assocPoints[i] >= t ? 2 : 0);
    }
    const t = e.scoreAtLeast!;
    return (c.errorFree[i] < t ? 1 : 0) | (c.score[i] - c.assocPoints[i] < t ? 2 : 0);
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

  function enter(L: ListState, i: number, reason: number, actKind: number): void {
    const assessed = assess(L, i, reason, actKind);
    const wrongful = assessed & 1, via = assessed >> 1;
    L.pos.set(i, L.members.length);
    L.members.push(i);
    L.since.push(sim.day);
    L.reason.push(reason);
    L.wrongful.push(wrongful);
    L.viaAssoc.push(via);
    L.paidDay.push(-1);
    L.everListed++;
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
    const last = L.members.length - 1;
    const moved = L.members[last];
    for (const col of [L.members, L.since, L.reason, L.wrongful, L.viaAssoc, L.paidDay]) {
      col[p] = col[last];
      col.pop();
    }
    L.pos.delete(i);
    if (moved !== i) L.pos.set(moved, p);
    L.exited++;
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
  }

  /** Daily pass over the members: ways off the list, and ground truth re-read as scores move. */
  function review(L: ListState): void {
    const rule = L.rule;
    const rng = sim.streams.lists.at(sim.day, 1 + L.index);
    for (let p = L.members.length - 1; p >= 0; p--) {
      // Walking down, a chunk starts at its top; exits only move members already reviewed.
      if (p === L.members.length - 1 || (p + 1) % READ_AHEAD === 0) prefetch(L, p - (p % READ_AHEAD), p + 1);
      const i = L.members[p];
      const days = sim.day - L.since[p];
      if (L.reason[p] === DT.act) {
        if (rule.paymentExit.enabled) {
          if (L.paidDay[p] < 0 && rng.next() < (rule.paymentExit.perYear / 365) * Math.min(2, c.income[i] / median)) L.paidDay[p] = sim.day;
          if (L.paidDay[p] >= 0 && sim.day - L.paidDay[p] >= rule.paymentExit.delayDays) { exit(L, i, DT.payment); continue; }
        }
        if (rule.durationDays > 0 && days >= rule.durationDays) exit(L, i, DT.duration);
        continue;
      }
      if (L.black ? c.score[i] >= rule.entry.scoreBelow! && days >= rule.minDays : c.score[i] < rule.entry.scoreAtLeast!) {
        exit(L, i, L.black ? DT["score-recovered"] : DT["score-fell"]);
        continue;
      }
      const assessed = assess(L, i, L.reason[p], TRUE);
      const wrongful = assessed & 1, via = assessed >> 1;
      if (wrongful !== L.wrongful[p]) { M.addStock(c.cell[i], L.m.wrongful, wrongful - L.wrongful[p]); L.wrongful[p] = wrongful; }
      if (via !== L.viaAssoc[p]) { M.addStock(c.cell[i], L.m.via, via - L.viaAssoc[p]); L.viaAssoc[p] = via; }
    }
  }

  const lists: Lists = { states, log, exit };
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

  function checkScore(i: number): void {
    const v = c.score[i], mask = c.listMask[i];
    for (let q = 0; q < nScore; q++) {
      if (mask & bits[q] || (v >= below[q] && v < atLeast[q])) continue;
      const L = scoreLists[q];
      enter(L, i, L.black ? DT["score-below"] : DT["score-at-least"], TRUE);
    }
  }

  return {
    name: "lists",
    lists,
    state: {
      save: () => ({
        log: saveColumns(log),
        states: states.map((L) => ({
          members: L.members, since: L.since, reason: L.reason, wrongful: L.wrongful, viaAssoc: L.viaAssoc, paidDay: L.paidDay,
          everListed: L.everListed, exited: L.exited,
        })),
      }),
      restore(saved) {
        const v = saved as { log: unknown; states: Pick<ListState, "members" | "since" | "reason" | "wrongful" | "viaAssoc" | "paidDay" | "everListed" | "exited">[] };
        restoreColumns(log, v.log);
        states.forEach((L, k) => {
          // Member order is kept: the daily review walks it, drawing in that order.
          Object.assign(L, v.states[k]);
          L.pos = IdMap.positions(L.members);
        });
      },
    },
    day(sim) {
      for (const L of states) review(L);
      const obs = sim.obs;
      for (const L of actLists) {
        for (let k = 0; k < obs.length; k++) {
          const i = obs.target.data[k];
          if (L.acts[obs.behaviour.data[k]] && !(c.listMask[i] & (1 << L.index))) enter(L, i, DT.act, obs.kind.data[k]);
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
