// Sanctions and privileges as attempts that people really make: a blacklisted citizen who
// tries to fly and is refused is one blocked purchase. Sanctions and privileges also move
// income (a job ban lowers it), which feeds back into late payment and default.
import type { MetricSpec } from "../engine/counters.js";
import { SANCTIONS, PRIVILEGES } from "../scenario/schema.js";
import { ANY, bitsBelow, type Valid } from "../engine/checkpoint.js";
import { stateColumn, type Rebuilt } from "./state-columns.js";
import type { Rng } from "../engine/random.js";
import { EV, DT } from "../metrics/trail.js";
import { record, type Phase, type Sim } from "./context.js";
import { IdMap } from "../engine/id-map.js";
import type { Lists } from "./lists.js";

/** A set of citizens with O(1) add, remove and dense iteration. */
export class DenseSet {
  items: number[] = [];
  private pos = new IdMap();
  /** Add i (if absent); returns its position. */
  add(i: number): number {
    const p = this.pos.get(i);
    if (p >= 0) return p;
    this.pos.set(i, this.items.length);
    return this.items.push(i) - 1;
  }
  /** Remove i, moving the last item into its place; returns the position it had (-1: absent). */
  delete(i: number): number {
    const p = this.pos.get(i);
    if (p < 0) return -1;
    const last = this.items.pop()!;
    if (last !== i) {
      this.items[p] = last;
      this.pos.set(last, p);
    }
    this.pos.delete(i);
    return p;
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
    this.pos = IdMap.positions(items);
  }
}

/**
 * The people holding some sanction (or privilege), in set order (as DenseSet), each with what
 * their attempts depend on: the kinds held, their means, cell and blocks so far. The daily
 * attempts read these in sequence: read from the world, a person's four values were four cache
 * misses (the set's people are scattered over the ids), and those misses were the loop's cost.
 */
class Attempters {
  private readonly members = new DenseSet();
  mask: number[] = [];
  means: number[] = [];
  cell: number[] = [];
  blocked: number[] = [];
  get items(): number[] {
    return this.members.items;
  }
  /** Add i, or update what is kept of them. */
  set(i: number, mask: number, means: number, cell: number, blocked: number): void {
    const p = this.members.add(i);
    this.mask[p] = mask;
    this.means[p] = means;
    this.cell[p] = cell;
    this.blocked[p] = blocked;
  }
  /** Remove i, and what is kept of them, as the set moves its last member into their place. */
  delete(i: number): void {
    const p = this.members.delete(i);
    if (p < 0) return;
    for (const col of [this.mask, this.means, this.cell, this.blocked]) {
      col[p] = col[col.length - 1];
      col.pop();
    }
  }
}

export const CONSEQUENCES_METRICS = {
  ...Object.fromEntries(SANCTIONS.map((k) => [`blocked_${k}`, { name: `blocked_${k}`, unit: "attempts", description: `Attempts blocked by the ${k} sanction` }])),
  ...Object.fromEntries(PRIVILEGES.map((k) => [`granted_${k}`, { name: `granted_${k}`, unit: "uses", description: `Uses of the ${k} privilege` }])),
  ...Object.fromEntries(SANCTIONS.map((k) => [`barred_${k}`, { name: `barred_${k}`, unit: "people", description: `People a list's ${k} sanction applies to`, stock: true }])),
  income_sum: { name: "income_sum", unit: "income units a day", description: "Sum of daily incomes (divide by population for the mean)", stock: true },
} as Record<`blocked_${(typeof SANCTIONS)[number]}` | `granted_${(typeof PRIVILEGES)[number]}` | `barred_${(typeof SANCTIONS)[number]}` | "income_sum", MetricSpec>;

/**
 * An income is the citizen's base income (identity) times the effects of the sanctions and
 * privileges held: between the product of every lowering effect and that of every raising one
 * (a margin for Float32 rounding).
 */
function incomeRange({ s, c }: Rebuilt): Valid {
  let lo = 1, hi = 1;
  if (s.mechanisms.incomeFeedback) {
    for (const r of [...SANCTIONS.map((k) => s.consequences.sanctions[k]), ...PRIVILEGES.map((k) => s.consequences.privileges[k])]) {
      lo *= Math.min(1, 1 + r.incomeEffect);
      hi *= Math.max(1, 1 + r.incomeEffect);
    }
  }
  const base = c.incomeBase;
  return {
    what: `between ${lo} and ${hi} times the citizen's base income`,
    ok: (v, i) => v >= base[i] * lo * (1 - 1e-6) && v <= base[i] * hi * (1 + 1e-6),
  };
}

export const CONSEQUENCES_COLUMNS = {
  /** Bit per sanction held. */
  sanctionMask: stateColumn(Uint16Array, { valid: () => bitsBelow(SANCTIONS.length) }),
  /** Bit per privilege held. */
  privilegeMask: stateColumn(Uint16Array, { valid: () => bitsBelow(PRIVILEGES.length) }),
  /** Attempts a sanction blocked, which the person learns from (counted up to 255). */
  blockedCount: stateColumn(Uint8Array, { valid: () => ANY }),
  /** Daily income now: the base times the effects of the sanctions and privileges held. */
  income: stateColumn(Float32Array, { initial: ({ c }) => c.incomeBase, valid: incomeRange }),
};

export function consequencesPhase(sim: Sim, lists: Pick<Lists, "listsOf">): Phase & { blacklisted: DenseSet; redlisted: DenseSet } {
  const { s: scenario, c: citizens } = sim;
  const metrics = sim.metrics;
  const sanctionsOn = scenario.mechanisms.sanctions;
  const privilegesOn = scenario.mechanisms.privileges;
  const feedback = scenario.mechanisms.incomeFeedback;
  const bit = <T extends string>(all: readonly T[], names: readonly T[]) => names.reduce((m, n) => m | (1 << all.indexOf(n)), 0);
  const listSanctions = scenario.lists.map((l) => bit(SANCTIONS, l.sanctions));
  const listPrivileges = scenario.lists.map((l) => bit(PRIVILEGES, l.privileges));
  const black = scenario.lists.map((l) => l.kind === "black");
  const sanctionRate = SANCTIONS.map((k) => scenario.consequences.sanctions[k]);
  const privilegeRate = PRIVILEGES.map((k) => scenario.consequences.privileges[k]);
  const at = metrics.indexOf(CONSEQUENCES_METRICS);
  const BLOCKED = SANCTIONS.map((k) => at[`blocked_${k}`]);
  const GRANTED = PRIVILEGES.map((k) => at[`granted_${k}`]);
  const BARRED = SANCTIONS.map((k) => at[`barred_${k}`]);
  // Learning: each blocked attempt lowers that person's attempt rate (afterBlock^blocks so far).
  const learned = sanctionRate.map((r) => Float64Array.from({ length: 256 }, (_, k) => Math.pow(r.afterBlock, k)));
  const median = scenario.population.income.median;
  const INCOME_SUM = at.income_sum;

  const sanctioned = new Attempters();
  const privileged = new Attempters();
  /** People attempt in proportion to their means: the rich fly more (clamped to [0.2, 3]). */
  const meansOf = (income: number) => Math.max(0.2, Math.min(3, income / median));
  /** Keep i in the set of those who hold something of `mask`, with what their attempts read. */
  const keep = (set: Attempters, i: number, mask: number) =>
    mask ? set.set(i, mask, meansOf(citizens.income[i]), citizens.cell[i], citizens.blockedCount[i]) : set.delete(i);
  const blacklisted = new DenseSet();
  const redlisted = new DenseSet();

  function refresh(i: number): void {
    let sm = 0, pm = 0, onBlack = false, onRed = false;
    for (const k of lists.listsOf(i)) {
      sm |= listSanctions[k];
      pm |= listPrivileges[k];
      if (black[k]) onBlack = true; else onRed = true;
    }
    if (!sanctionsOn) sm = 0;
    if (!privilegesOn) pm = 0;
    for (let k = 0, was = citizens.sanctionMask[i]; k < SANCTIONS.length; k++) {
      const change = ((sm >> k) & 1) - ((was >> k) & 1);
      if (change) metrics.addStock(citizens.cell[i], BARRED[k], change);
    }
    citizens.sanctionMask[i] = sm;
    citizens.privilegeMask[i] = pm;
    if (onBlack) blacklisted.add(i); else blacklisted.delete(i);
    if (onRed) redlisted.add(i); else redlisted.delete(i);
    let f = 1;
    if (feedback) {
      for (let k = 0; k < SANCTIONS.length; k++) if (sm & (1 << k)) f *= 1 + sanctionRate[k].incomeEffect;
      for (let k = 0; k < PRIVILEGES.length; k++) if (pm & (1 << k)) f *= 1 + privilegeRate[k].incomeEffect;
    }
    const income = Math.fround(citizens.incomeBase[i] * f);
    metrics.addStock(citizens.cell[i], INCOME_SUM, income - citizens.income[i]);
    citizens.income[i] = income;
    keep(sanctioned, i, sm);
    keep(privileged, i, pm);
  }
  sim.listeners.push((ch) => refresh(ch.agent));
  const sanctionPerDay = sanctionRate.map((r) => r.attemptsPerYear / 365);
  const privilegePerDay = privilegeRate.map((r) => r.attemptsPerYear / 365);

  /**
   * Today's attempts of each person at what their mask allows (one draw per kind, people in set
   * order): a sanction blocks the attempt, and each block makes the next attempt less likely; a
   * privilege is granted.
   */
  function attempts(rng: Rng, set: Attempters, kinds: readonly (keyof typeof DT)[], perDay: number[], counted: number[], sanction: boolean): void {
    const day = sim.day;
    const { items, mask, means, cell, blocked } = set;
    for (let a = 0; a < items.length; a++) {
      for (let m = mask[a], k = 0; m !== 0; m >>>= 1, k++) {
        if (!(m & 1)) continue;
        const p = sanction ? perDay[k] * means[a] * learned[k][blocked[a]] : perDay[k] * means[a];
        if (rng.next() >= p) continue;
        const i = items[a];
        metrics.add(day, cell[a], counted[k], 1);
        if (sanction && blocked[a] < 255) citizens.blockedCount[i] = ++blocked[a];
        record(sim, i, { event: sanction ? EV.blocked : EV.granted, detail: DT[kinds[k]] });
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
        // In the saved order (it decides the draws); the rest is read back from the restored world.
        const [s, p, b, r] = saved as number[][];
        for (const i of s) keep(sanctioned, i, citizens.sanctionMask[i]);
        for (const i of p) keep(privileged, i, citizens.privilegeMask[i]);
        blacklisted.assign(b);
        redlisted.assign(r);
        // What each list carries may differ from what was saved (a timeline's change): everyone
        // listed has their sanctions, privileges and income worked out again, in saved order.
        for (const i of [...b, ...r]) refresh(i);
      },
    },
    day(sim) {
      const day = sim.day;
      if (day === 0) for (let i = 0; i < sim.n; i++) metrics.addStock(citizens.cell[i], INCOME_SUM, citizens.income[i]);
      const rng = sim.streams.consequences.at(day);
      attempts(rng, sanctioned, SANCTIONS, sanctionPerDay, BLOCKED, true);
      attempts(rng, privileged, PRIVILEGES, privilegePerDay, GRANTED, false);
    },
  };
}
