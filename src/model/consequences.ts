// Sanctions and privileges as attempts that people really make: a blacklisted citizen who
// tries to fly and is refused is one blocked purchase. Sanctions and privileges also move
// income (a job ban lowers it), which feeds back into late payment and default.
import { SANCTIONS, PRIVILEGES } from "../scenario/schema.js";
import type { Rng } from "../engine/random.js";
import { EV, DT } from "../metrics/trail.js";
import { READ_AHEAD, record, type Phase, type Sim } from "./context.js";

/** A set of citizens with O(1) add, remove and dense iteration. */
export class DenseSet {
  items: number[] = [];
  private pos = new Map<number, number>();
  add(i: number): void {
    if (this.pos.has(i)) return;
    this.pos.set(i, this.items.length);
    this.items.push(i);
  }
  delete(i: number): void {
    const p = this.pos.get(i);
    if (p === undefined) return;
    const last = this.items.pop()!;
    if (last !== i) {
      this.items[p] = last;
      this.pos.set(last, p);
    }
    this.pos.delete(i);
  }
  has(i: number): boolean {
    return this.pos.has(i);
  }
  get size(): number {
    return this.items.length;
  }
  /** Replace the contents, in this order (restoring a checkpoint: iteration order decides draws). */
  assign(items: number[]): void {
    this.items = items.slice();
    this.pos = new Map(items.map((i, p) => [i, p]));
  }
}

export function consequencesPhase(sim: Sim): Phase & { blacklisted: DenseSet; redlisted: DenseSet } {
  const { s, c } = sim;
  const M = sim.metrics;
  const sanctionsOn = s.mechanisms.sanctions;
  const privilegesOn = s.mechanisms.privileges;
  const feedback = s.mechanisms.incomeFeedback;
  const bit = <T extends string>(all: readonly T[], names: readonly T[]) => names.reduce((m, n) => m | (1 << all.indexOf(n)), 0);
  const listSanctions = s.lists.map((l) => bit(SANCTIONS, l.sanctions));
  const listPrivileges = s.lists.map((l) => bit(PRIVILEGES, l.privileges));
  const blackBits = s.lists.reduce((m, l, k) => (l.kind === "black" ? m | (1 << k) : m), 0);
  const redBits = s.lists.reduce((m, l, k) => (l.kind === "red" ? m | (1 << k) : m), 0);
  const firmSanctions = bit(SANCTIONS, s.firms.representativeSanctions);
  const sanctionRate = SANCTIONS.map((k) => s.consequences.sanctions[k]);
  const privilegeRate = PRIVILEGES.map((k) => s.consequences.privileges[k]);
  const BLOCKED = SANCTIONS.map((k) => M.declare(`blocked_${k}`, `Attempts blocked by the ${k} sanction`));
  const GRANTED = PRIVILEGES.map((k) => M.declare(`granted_${k}`, `Uses of the ${k} privilege`));
  // Learning: each blocked attempt lowers that person's attempt rate (afterBlock^blocks so far).
  const learned = sanctionRate.map((r) => Float64Array.from({ length: 256 }, (_, k) => Math.pow(r.afterBlock, k)));
  const median = s.population.income.median;
  const INCOME_SUM = M.declare("income_sum", "Sum of daily incomes (divide by population for the mean)", true);

  const sanctioned = new DenseSet();
  const privileged = new DenseSet();
  const blacklisted = new DenseSet();
  const redlisted = new DenseSet();

  function refresh(i: number): void {
    let sm = 0, pm = 0;
    for (let k = 0; k < s.lists.length; k++) {
      if (c.listMask[i] & (1 << k)) { sm |= listSanctions[k]; pm |= listPrivileges[k]; }
    }
    if (c.firmRestrictions[i] > 0) sm |= firmSanctions;
    if (!sanctionsOn) sm = 0;
    if (!privilegesOn) pm = 0;
    c.sanctionMask[i] = sm;
    c.privilegeMask[i] = pm;
    if (sm) sanctioned.add(i); else sanctioned.delete(i);
    if (pm) privileged.add(i); else privileged.delete(i);
    if (c.listMask[i] & blackBits) blacklisted.add(i); else blacklisted.delete(i);
    if (c.listMask[i] & redBits) redlisted.add(i); else redlisted.delete(i);
    let f = 1;
    if (feedback) {
      for (let k = 0; k < SANCTIONS.length; k++) if (sm & (1 << k)) f *= 1 + sanctionRate[k].incomeEffect;
      for (let k = 0; k < PRIVILEGES.length; k++) if (pm & (1 << k)) f *= 1 + privilegeRate[k].incomeEffect;
    }
    const income = Math.fround(c.incomeBase[i] * f);
    M.addStock(c.cell[i], INCOME_SUM, income - c.income[i]);
    c.income[i] = income;
  }
  sim.listeners.push((ch) => refresh(ch.agent));
  // The listed are scattered over the ids, so nearly every read of their state misses the cache.
  // gather() reads a chunk of them first in a loop without branches, where the processor keeps
  // many of those misses in flight at once; the loops with draws then read these dense copies (and
  // lines already fetched, still in the core's cache). The order of people, and so of draws, is unchanged.
  const incomeOf = new Float64Array(READ_AHEAD);
  const maskOf = new Int32Array(READ_AHEAD);
  function gather(items: number[], masks: Uint16Array, from: number, to: number): void {
    for (let a = from; a < to; a++) {
      const i = items[a];
      incomeOf[a - from] = c.income[i];
      maskOf[a - from] = masks[i] | ((c.blockedCount[i] + c.cell[i]) << 16); // the high bits only fetch those lines
    }
  }

  const sanctionPerDay = sanctionRate.map((r) => r.attemptsPerYear / 365);
  const privilegePerDay = privilegeRate.map((r) => r.attemptsPerYear / 365);

  /**
   * Today's attempts of each person at what their mask allows (one draw per kind, people in set
   * order): a sanction blocks the attempt, and each block makes the next attempt less likely; a
   * privilege is granted. People attempt in proportion to their means: the rich fly more
   * (clamped to [0.2, 3]).
   */
  function attempts(rng: Rng, items: number[], masks: Uint16Array, kinds: readonly (keyof typeof DT)[], perDay: number[], counted: number[], sanction: boolean): void {
    const day = sim.day;
    for (let from = 0; from < items.length; from += READ_AHEAD) {
      const to = Math.min(items.length, from + READ_AHEAD);
      gather(items, masks, from, to);
      for (let a = from; a < to; a++) {
        const i = items[a];
        const means = Math.max(0.2, Math.min(3, incomeOf[a - from] / median));
        const m = maskOf[a - from] & 0xffff;
        for (let k = 0; k < kinds.length; k++) {
          if (!(m & (1 << k))) continue;
          const p = sanction ? perDay[k] * means * learned[k][c.blockedCount[i]] : perDay[k] * means;
          if (rng.next() >= p) continue;
          M.add(day, c.cell[i], counted[k], 1);
          if (sanction && c.blockedCount[i] < 255) c.blockedCount[i]++;
          record(sim, i, { event: sanction ? EV.blocked : EV.granted, detail: DT[kinds[k]] });
        }
      }
    }
  }

  return {
    name: "consequences",
    blacklisted,
    redlisted,
    state: {
      save: () => [sanctioned, privileged, blacklisted, redlisted].map((set) => set.items),
      restore(saved) {
        const v = saved as number[][];
        [sanctioned, privileged, blacklisted, redlisted].forEach((set, k) => set.assign(v[k]));
      },
    },
    day(sim) {
      const day = sim.day;
      if (day === 0) for (let i = 0; i < sim.n; i++) M.addStock(c.cell[i], INCOME_SUM, c.income[i]);
      const rng = sim.streams.consequences.at(day);
      attempts(rng, sanctioned.items, c.sanctionMask, SANCTIONS, sanctionPerDay, BLOCKED, true);
      attempts(rng, privileged.items, c.privilegeMask, PRIVILEGES, privilegePerDay, GRANTED, false);
    },
  };
}
