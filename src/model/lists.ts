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
//
// A scenario may hold hundreds of lists (docs/model.md §15c), so nothing here costs memory per
// citizen or work per citizen and list: membership is the lists' own sparse rosters, with a
// sparse index from the listed to their lists (listsOf); a day's entry checks look only at the
// lists of the person's region whose thresholds their score crossed, and only at the lists that
// name the acts observed.
import type { ListRule } from "../scenario/schema.js";
import { int32Column, type GrowableColumn } from "../engine/columns.js";
import { hasKindSums, isReported, listKindMetrics, listMetrics, LIST_DAILY_METRICS, type ListMetricSet } from "../metrics/list-metrics.js";
import { firstReportedDay } from "../scenario/timeline.js";
import type { MetricIndex } from "../engine/counters.js";
import { EV, DT, TRUE, REAL_ACTOR } from "../metrics/trail.js";
import { READ_AHEAD, record, type Phase, type Sim } from "./context.js";
import { ANY, CheckpointError, restoreColumns, saveColumns } from "../engine/checkpoint.js";
import { IdMap } from "../engine/id-map.js";
import { hashInts, hashStep, nameId } from "../engine/random.js";
import { stateColumn } from "./state-columns.js";

export const LISTS_COLUMNS = {
  /** Blacklisted firms this person legally represents (the count). */
  firmRestrictions: stateColumn(Uint8Array, { valid: () => ANY }),
};

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
  /** Distinct people ever on the list (during the reported days). */
  ever: IdMap;
  /** Per region, 1 if the list covers its residents; null: the whole country. */
  covers: Uint8Array | null;
  /** Indices of its per-cell daily metrics (metrics/list-metrics.ts); null for a list not reported. */
  m: MetricIndex<ListMetricSet> | null;
  /** Indices of the per-cell sums over its kind; null when every list is reported. */
  kindSum: MetricIndex<ListMetricSet> | null;
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
  exit(list: ListState, agent: number, reason: number): void;
  /**
   * A firm that `agent` represents joined (+1) or left (-1) the firm blacklist, on the record or,
   * with `truth`, in the error-free record: their listing on every list with entry.firms follows
   * (and, on the record, citizens.firmRestrictions, the count of such firms).
   */
  firmListing(agent: number, change: 1 | -1, truth: boolean): void;
  /** The lists (indices, ascending) `agent` is on now: empty for nearly everyone. */
  listsOf(agent: number): readonly number[];
}

const NONE: readonly number[] = [];

/** The one definition: a listing is wrongful while the error-free record does not have the person on that list. */
export const isWrongful = (list: ListState, i: number): number => (list.truth.pos.has(i) ? 0 : 1);

export function listsPhase(sim: Sim): Phase & { lists: Lists } {
  const { s: scenario, c: citizens, behaviours } = sim;
  const metrics = sim.metrics;
  const on = scenario.mechanisms.lists;
  const reportedFrom = firstReportedDay(scenario);
  const regionNames = scenario.population.regions.map((r) => r.name);
  const kindSums = hasKindSums(scenario.lists);
  const D = sim.listDaily.indexOf(LIST_DAILY_METRICS);
  const states: ListState[] = (on ? scenario.lists : []).map((rule, index) => ({
    index, rule, black: rule.kind === "black",
    acts: Uint8Array.from(behaviours, (b) => (rule.entry.acts.includes(b.id) ? 1 : 0)),
    ...emptyRoster(), wrongful: [], viaAssoc: [], truth: emptyRoster(),
    ever: new IdMap(),
    covers: rule.regions ? Uint8Array.from(regionNames, (name) => (rule.regions!.includes(name) ? 1 : 0)) : null,
    m: isReported(rule) ? metrics.indexOf(listMetrics(rule.id)) : null,
    kindSum: kindSums ? metrics.indexOf(listKindMetrics(rule.kind)) : null,
  }));
  const regionOf = (i: number) => Math.floor(citizens.cell[i] / (2 * sim.groups));
  const covered = (list: ListState, i: number) => list.covers === null || list.covers[regionOf(i)] === 1;
  /** Sparse index: the lists each listed person is on (ascending); nobody else has an entry. */
  const onLists = new Map<number, number[]>();
  const listsOf = (i: number): readonly number[] => onLists.get(i) ?? NONE;
  function joined(list: ListState, i: number): void {
    const mine = onLists.get(i);
    if (!mine) { onLists.set(i, [list.index]); return; }
    let p = mine.length;
    while (p > 0 && mine[p - 1] > list.index) p--;
    mine.splice(p, 0, list.index);
  }
  function left(list: ListState, i: number): void {
    const mine = onLists.get(i)!;
    if (mine.length === 1) onLists.delete(i); else mine.splice(mine.indexOf(list.index), 1);
  }
  /** A list's daily metric: per cell if it is reported, in its kind's sums if there are any, and in list_daily. */
  function stock(list: ListState, cell: number, k: keyof ListMetricSet, v: number): void {
    if (list.m) metrics.addStock(cell, list.m[k], v);
    if (list.kindSum) metrics.addStock(cell, list.kindSum[k], v);
    sim.listDaily.addStock(list.index, D[k], v);
  }
  function flow(list: ListState, cell: number, k: keyof ListMetricSet, v: number): void {
    if (list.m) metrics.add(sim.day, cell, list.m[k], v);
    if (list.kindSum) metrics.add(sim.day, cell, list.kindSum[k], v);
    sim.listDaily.add(sim.day, list.index, D[k], v);
  }
  const log = new ListLog();
  // A redlist is always entered by score; a blacklist by score if it has a threshold, by act if it names acts.
  const byScore = (list: ListState) => (list.black ? list.rule.entry.scoreBelow !== undefined : true);
  const byAct = (list: ListState) => list.rule.entry.acts.length > 0;
  const median = scenario.population.income.median;
  const paymentKey = hashInts(nameId("payments"), sim.seed);
  // Blacklisted firms represented, per citizen, in the error-free record (few people: a map).
  const truthFirms = new IdMap();
  const firmLists = states.filter((list) => list.rule.entry.firms);

  /**
   * Read the state review() reads of people [from, to) once, in a loop without branches, and
   * discard it. Members are scattered over the ids, so nearly every read misses the cache; here
   * many misses are in flight at once, where the loop of review() (unpredictable branches) would
   * wait for them one by one. A chunk at a time (READ_AHEAD people), so that what was read is
   * still in the core's own cache when it is used: the whole of a long list is not. Only what
   * review() reads of nearly everyone on L: the income for a payment, the scores for a threshold.
   */
  let fetched = 0;
  function prefetch(list: ListState, people: number[], from: number, to: number): void {
    let sum = 0;
    if (byAct(list) && list.rule.paymentExit.enabled) for (let p = from; p < to; p++) sum += citizens.income[people[p]];
    if (byScore(list)) {
      for (let p = from; p < to; p++) {
        const i = people[p];
        sum += citizens.score[i] + citizens.errorFree[i] + citizens.assocPoints[i];
      }
    }
    fetched += sum; // kept, so that the reads are not optimised away
  }

  /** Listed only because of association charges: without them the score would not list the person. */
  function viaAssociation(list: ListState, i: number, reason: number): number {
    if (reason !== DT["score-below"] && reason !== DT["score-at-least"]) return 0;
    const v = citizens.score[i] - citizens.assocPoints[i];
    return (list.black ? v >= list.rule.entry.scoreBelow! : v < list.rule.entry.scoreAtLeast!) ? 1 : 0;
  }

  function logEvent(list: ListState, i: number, entered: boolean, reason: number, wrongful: number, via: number, days: number): void {
    log.day.push(sim.day);
    log.agent.push(i);
    log.list.push(list.index);
    log.entered.push(entered ? 1 : 0);
    log.reason.push(reason);
    log.wrongful.push(wrongful);
    log.viaAssoc.push(via);
    log.daysOnList.push(days);
  }

  function setWrongful(list: ListState, p: number, wrongful: number): void {
    if (wrongful === list.wrongful[p]) return;
    stock(list, citizens.cell[list.members[p]], "wrongful", wrongful - list.wrongful[p]);
    list.wrongful[p] = wrongful;
  }

  function enter(list: ListState, i: number, reason: number): void {
    const wrongful = isWrongful(list, i), via = viaAssociation(list, i, reason);
    addTo(list, i, sim.day, reason);
    list.wrongful.push(wrongful);
    list.viaAssoc.push(via);
    list.ever.set(i, 1);
    joined(list, i);
    const cell = citizens.cell[i];
    stock(list, cell, "on", 1);
    stock(list, cell, "wrongful", wrongful);
    stock(list, cell, "viaAssociation", via);
    flow(list, cell, "entries", 1);
    logEvent(list, i, true, reason, wrongful, via, 0);
    record(sim, i, { event: EV.listed, list: list.index, detail: reason, wrongful });
    for (const f of sim.listeners) f({ list: list.index, agent: i, entered: true, wrongful: wrongful === 1, since: sim.day, reason });
  }

  function exit(list: ListState, i: number, reason: number): void {
    const p = list.pos.get(i);
    if (p < 0) return;
    const since = list.since[p], wrongful = list.wrongful[p], via = list.viaAssoc[p];
    removeRow(list, p, [list.wrongful, list.viaAssoc]);
    left(list, i);
    const cell = citizens.cell[i];
    stock(list, cell, "on", -1);
    stock(list, cell, "wrongful", -wrongful);
    stock(list, cell, "viaAssociation", -via);
    flow(list, cell, "exits", 1);
    if (reason === DT.payment) flow(list, cell, "exitsPaid", 1);
    if (wrongful) {
      flow(list, cell, "clearedWrongful", 1);
      flow(list, cell, "daysToClearWrongful", sim.day - since);
    }
    logEvent(list, i, false, reason, wrongful, via, sim.day - since);
    record(sim, i, { event: EV.delisted, list: list.index, detail: reason, wrongful });
    for (const f of sim.listeners) f({ list: list.index, agent: i, entered: false, wrongful: wrongful === 1, since, reason });
    // Still representing a blacklisted firm: the firm keeps the person on the list (a won appeal lifts it all).
    if (list.rule.entry.firms && reason !== DT.firm && reason !== DT["appeal-won"] && citizens.firmRestrictions[i] > 0) enter(list, i, DT.firm);
  }

  function enterTruth(list: ListState, i: number, reason: number): void {
    addTo(list.truth, i, sim.day, reason);
    stock(list, citizens.cell[i], "errorFreeOn", 1);
    const p = list.pos.get(i);
    if (p >= 0) setWrongful(list, p, 0);
  }

  function exitTruth(list: ListState, i: number, reason: number): void {
    const p = list.truth.pos.get(i);
    if (p < 0) return;
    removeRow(list.truth, p);
    stock(list, citizens.cell[i], "errorFreeOn", -1);
    const q = list.pos.get(i);
    if (q >= 0) setWrongful(list, q, 1);
    if (list.rule.entry.firms && reason !== DT.firm && truthFirms.get(i, 0) > 0) enterTruth(list, i, DT.firm);
  }

  /**
   * Did the person pay what is owed today? One uniform per (day, list, person), shared by the
   * record's listing and the error-free record's: a person on both pays on the same day.
   */
  function pays(list: ListState, dayKey: number, i: number): boolean {
    const u = hashStep(dayKey, i) / 4294967296;
    return u < (list.rule.paymentExit.perYear / 365) * Math.min(2, citizens.income[i] / median);
  }

  /**
   * The day's ways off a roster whose scores are `score` (the record's or the error-free one):
   * time served and payment for act listings, the score for score listings. Firm listings end
   * with the firm (firmListing). Walks down, so that an exit moves only members already reviewed.
   * On the record's own list (`list` itself), a score listing that stays is re-read for whether
   * association alone explains it, in the same walk (its state was just read ahead).
   */
  function review(list: ListState, r: Roster, score: Float32Array, leave: (list: ListState, i: number, reason: number) => void): void {
    const ownList = r === list;
    const rule = list.rule;
    const dayKey = hashStep(hashStep(paymentKey, sim.day), list.index);
    for (let p = r.members.length - 1; p >= 0; p--) {
      if (p === r.members.length - 1 || (p + 1) % READ_AHEAD === 0) prefetch(list, r.members, p - (p % READ_AHEAD), p + 1);
      const i = r.members[p], reason = r.reason[p];
      const days = sim.day - r.since[p];
      if (reason === DT.firm) continue;
      if (reason === DT.act) {
        if (rule.paymentExit.enabled) {
          if (r.paidDay[p] < 0 && pays(list, dayKey, i)) r.paidDay[p] = sim.day;
          if (r.paidDay[p] >= 0 && sim.day - r.paidDay[p] >= rule.paymentExit.delayDays) { leave(list, i, DT.payment); continue; }
        }
        if (rule.durationDays > 0 && days >= rule.durationDays) leave(list, i, DT.duration);
        continue;
      }
      if (list.black ? score[i] >= rule.entry.scoreBelow! && days >= rule.minDays : score[i] < rule.entry.scoreAtLeast!) {
        leave(list, i, list.black ? DT["score-recovered"] : DT["score-fell"]);
      } else if (ownList) {
        const via = viaAssociation(list, i, reason);
        if (via !== list.viaAssoc[p]) { stock(list, citizens.cell[i], "viaAssociation", via - list.viaAssoc[p]); list.viaAssoc[p] = via; }
      }
    }
  }

  function firmListing(i: number, change: 1 | -1, truth: boolean): void {
    if (!truth) citizens.firmRestrictions[i] += change;
    if (!firmLists.length) return;
    if (truth) {
      const before = truthFirms.get(i, 0), after = before + change;
      if (after > 0) truthFirms.set(i, after); else truthFirms.delete(i);
      for (const list of firmLists) {
        if (before === 0 && after > 0 && !list.truth.pos.has(i) && covered(list, i)) enterTruth(list, i, DT.firm);
        const p = list.truth.pos.get(i);
        if (before > 0 && after === 0 && p >= 0 && list.truth.reason[p] === DT.firm) exitTruth(list, i, DT.firm);
      }
      return;
    }
    const after = citizens.firmRestrictions[i], before = after - change;
    for (const list of firmLists) {
      if (before === 0 && after > 0 && !list.pos.has(i) && covered(list, i)) enter(list, i, DT.firm);
      const p = list.pos.get(i);
      if (before > 0 && after === 0 && p >= 0 && list.reason[p] === DT.firm) exit(list, i, DT.firm);
    }
  }

  const lists: Lists = { states, log, exit, firmListing, listsOf };
  const scoreLists = states.filter(byScore);
  const actLists = states.filter(byAct);
  // Flat copies of the score rules: this check runs for every citizen whose score moved today.
  const nScore = scoreLists.length;
  const below = Float64Array.from(scoreLists, (list) => (list.black ? list.rule.entry.scoreBelow! : -Infinity));
  const atLeast = Float64Array.from(scoreLists, (list) => (list.black ? Infinity : list.rule.entry.scoreAtLeast!));
  // Per region, the score lists covering its residents (in list order) and the band of scores no
  // list of them takes: most people whose score moved are inside it, and are done at once.
  const scoreListsIn = regionNames.map((_, r) => Int32Array.from(scoreLists.flatMap((list, q) => (list.covers === null || list.covers[r] ? [q] : []))));
  const regionBelow = scoreListsIn.map((qs) => qs.reduce((m, q) => Math.max(m, below[q]), -Infinity));
  const regionAtLeast = scoreListsIn.map((qs) => qs.reduce((m, q) => Math.min(m, atLeast[q]), Infinity));

  for (let q = 0; q < nScore; q++) {
    sim.listBelow = Math.max(sim.listBelow, below[q]);
    sim.listAtLeast = Math.min(sim.listAtLeast, atLeast[q]);
  }

  /** The score entries of i: the error-free record's first, so that a listing made today knows its twin. */
  function checkScore(i: number): void {
    const v = citizens.score[i], w = citizens.errorFree[i], r = regionOf(i);
    const lo = regionBelow[r], hi = regionAtLeast[r];
    if (v >= lo && v < hi && w >= lo && w < hi) return;
    const qs = scoreListsIn[r];
    for (let k = 0; k < qs.length; k++) {
      const q = qs[k], list = scoreLists[q], reason = list.black ? DT["score-below"] : DT["score-at-least"];
      if (!(w >= below[q] && w < atLeast[q]) && !list.truth.pos.has(i)) enterTruth(list, i, reason);
      if (!(v >= below[q] && v < atLeast[q]) && !list.pos.has(i)) enter(list, i, reason);
    }
  }

  // The act lists by the acts they name and the regions they cover: a day's observations are
  // sorted into buckets, in observation order, by behaviour (for the national lists) and by
  // behaviour and region (for the regional ones), and each list reads only its own buckets.
  const regions = regionNames.length;
  const namedNationally = Uint8Array.from(behaviours, (_, b) => (actLists.some((list) => list.acts[b] && !list.covers) ? 1 : 0));
  const namedRegionally = Uint8Array.from(behaviours, (_, b) => (actLists.some((list) => list.acts[b] && list.covers) ? 1 : 0));
  const byBehaviour = behaviours.map(() => int32Column());
  const byBehaviourAndRegion = Array.from({ length: behaviours.length * regions }, () => int32Column());
  const bucketsOf = actLists.map((list) => behaviours.flatMap((_, b) => {
    if (!list.acts[b]) return [];
    return list.covers ? regionNames.flatMap((_, r) => (list.covers![r] ? [byBehaviourAndRegion[b * regions + r]] : [])) : [byBehaviour[b]];
  }));
  const merged = int32Column();
  /** The day's observations in `buckets`, in observation order. */
  function observed(buckets: GrowableColumn<Int32Array>[]): Int32Array {
    if (buckets.length === 1) return buckets[0].view();
    merged.length = 0;
    for (const bucket of buckets) merged.append(bucket.view());
    return merged.view().sort();
  }

  return {
    name: "lists",
    lists,
    state: {
      save: () => ({
        log: saveColumns(log),
        truthFirms: truthFirms.keys().map((i) => [i, truthFirms.get(i)]),
        states: states.map((list) => ({
          members: list.members, since: list.since, reason: list.reason, wrongful: list.wrongful, viaAssoc: list.viaAssoc, paidDay: list.paidDay,
          ever: list.ever.keys(),
          truth: { members: list.truth.members, since: list.truth.since, reason: list.truth.reason, paidDay: list.truth.paidDay },
        })),
      }),
      restore(saved) {
        type Saved = Omit<Roster, "pos"> & { wrongful: number[]; viaAssoc: number[]; ever: number[]; truth: Omit<Roster, "pos"> };
        const v = saved as { log: unknown; truthFirms: [number, number][]; states: Saved[] };
        if (!Array.isArray(v.states) || v.states.length !== states.length) throw new CheckpointError(`damaged checkpoint: ${v.states?.length} lists' rosters, expected ${states.length}`);
        for (const [k, list] of v.states.entries()) {
          for (const members of [list.members, list.truth?.members]) {
            if (!Array.isArray(members) || !members.every((i) => Number.isInteger(i) && i >= 0 && i < sim.n) || new Set(members).size !== members.length) {
              throw new CheckpointError(`damaged checkpoint: the roster of list ${states[k].rule.id} is not a set of citizen ids below ${sim.n}`);
            }
          }
        }
        restoreColumns(log, v.log);
        for (const [i, count] of v.truthFirms) truthFirms.set(i, count);
        states.forEach((list, k) => {
          const { ever, truth, ...rest } = v.states[k];
          Object.assign(list, rest);
          list.pos = IdMap.positions(list.members);
          list.truth = { ...truth, pos: IdMap.positions(truth.members) };
          list.ever = new IdMap();
          for (const i of ever) list.ever.set(i, 1);
        });
        onLists.clear();
        for (const list of states) for (const i of list.members) joined(list, i);
      },
    },
    day(sim) {
      // The people ever listed are counted over the reported days: those on a list when they begin.
      if (sim.day === reportedFrom && reportedFrom > 0) {
        for (const list of states) {
          list.ever.clear();
          for (const i of list.members) list.ever.set(i, 1);
        }
      }
      // Ways off first, the record's before the error-free record's: a listing that ends today
      // ends as it stood yesterday (a person both leave the same day was not listed wrongly).
      // Entries go the other way round (below): a listing made today knows today's twin.
      for (const list of states) {
        review(list, list, citizens.score, exit);
        review(list, list.truth, citizens.errorFree, exitTruth);
      }
      const obs = sim.obs;
      const target = obs.target.data, behaviour = obs.behaviour.data, kind = obs.kind.data;
      if (actLists.length) {
        for (const bucket of byBehaviour) bucket.length = 0;
        for (const bucket of byBehaviourAndRegion) bucket.length = 0;
        for (let k = 0; k < obs.length; k++) {
          const b = behaviour[k];
          if (namedNationally[b]) byBehaviour[b].push(k);
          if (namedRegionally[b]) byBehaviourAndRegion[b * regions + regionOf(target[k])].push(k);
        }
      }
      actLists.forEach((list, a) => {
        const ks = observed(bucketsOf[a]);
        // The error-free record lists whoever really did a listing act a channel saw (the target
        // of a true observation, the actor of a misattributed one, held here as REAL_ACTOR).
        for (let j = 0; j < ks.length; j++) {
          const k = ks[j], i = target[k], kd = kind[k];
          if ((kd === TRUE || kd === REAL_ACTOR) && !list.truth.pos.has(i)) enterTruth(list, i, DT.act);
        }
        for (let j = 0; j < ks.length; j++) {
          const k = ks[j], i = target[k];
          if (kind[k] !== REAL_ACTOR && !list.pos.has(i)) enter(list, i, DT.act);
        }
      });
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
