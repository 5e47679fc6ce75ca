// Sanctions and privileges as attempts that people really make: a blacklisted citizen who
// tries to fly and is refused is one blocked purchase. Sanctions and privileges also move
// income for as long as they are held (a job ban lowers it), which feeds back into late payment
// and default; and a sanction has effects on the person (scenario `effects`): a ban on social
// media silences part of their speech, a travel ban may keep them at home, a school ban reaches
// their children. Speech and public acts are cut where acts are drawn (behaviour.ts reads
// sanctionEffectTables); attempts here.
import type { MetricSet, MetricSpec } from "../engine/counters.js";
import { SANCTIONS, PRIVILEGES, type Scenario } from "../scenario/schema.js";
import { ANY, bitsBelow, type Valid } from "../engine/checkpoint.js";
import { stateColumn, type Rebuilt } from "./state-columns.js";
import { scenariosInForce } from "../scenario/timeline.js";
import type { Rng } from "../engine/random.js";
import { EV, DT } from "../metrics/trail.js";
import { record, type Phase, type Sim } from "./context.js";
import { IdMap } from "../engine/id-map.js";
import { householdOf } from "./world.js";
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
  /** Position of i (-1: absent). */
  indexOf(i: number): number {
    return this.pos.get(i);
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
  /** What the person is counted in (EFFECT bits), under the effects in force when they were counted. */
  effects: number[] = [];
  get items(): number[] {
    return this.members.items;
  }
  /** Position of i (-1: absent). */
  indexOf(i: number): number {
    return this.members.indexOf(i);
  }
  /** Add i, or update what is kept of them. */
  set(i: number, mask: number, means: number, cell: number, blocked: number, effects = 0): void {
    const p = this.members.add(i);
    this.mask[p] = mask;
    this.means[p] = means;
    this.cell[p] = cell;
    this.blocked[p] = blocked;
    this.effects[p] = effects;
  }
  /** Remove i, and what is kept of them, as the set moves its last member into their place. */
  delete(i: number): void {
    const p = this.members.delete(i);
    if (p < 0) return;
    for (const col of [this.mask, this.means, this.cell, this.blocked, this.effects]) {
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

export const SANCTION_EFFECT_METRICS = {
  speechSilenced: { name: "speech_silenced", unit: "acts", description: "Speech acts a ban stopped (effects.silence): apart from chilling, which the watch causes" },
  publicPrevented: { name: "public_acts_prevented", unit: "acts", description: "Public acts house arrest stopped (effects.houseArrest)" },
  tripsPrevented: { name: "trips_prevented", unit: "attempts", description: "Travel attempts not made because a sanction keeps the person at home (effects.confine)" },
  silenced: { name: "silenced", unit: "people", description: "People a sanction silences, in part or whole", stock: true },
  confined: { name: "confined", unit: "people", description: "People a sanction confines (fewer trips or public acts)", stock: true },
  childrenBarred: { name: "children_barred", unit: "people", description: "Minors a household member's sanction reaches (effects.children)", stock: true },
  childrenBlocked: { name: "children_blocked", unit: "attempts", description: "Attempts of those minors blocked" },
} satisfies MetricSet;

/** What a person holding some sanctions is counted in. */
const EFFECT = { silenced: 1, confined: 2 } as const;
/** The sanctions whose attempts are travel (what confinement cuts). */
const TRAVEL = ["flights", "trains", "hotels"] as const;

/**
 * Per sanction mask (a citizen's sanctionMask), the share of each thing the person still does:
 * speech, public acts, travel attempts; each sanction held leaves its (1 - share), and the
 * master switches (mechanisms.silencing, mechanisms.confinement) turn the effects off. A mask
 * holds only what mechanisms.sanctions lets through.
 */
export function sanctionEffectTables(s: Scenario): { speechKept: Float64Array; publicKept: Float64Array; travelKept: Float64Array; childBits: number } {
  const size = 1 << SANCTIONS.length;
  const speechKept = new Float64Array(size).fill(1), publicKept = new Float64Array(size).fill(1), travelKept = new Float64Array(size).fill(1);
  const effects = SANCTIONS.map((k) => s.consequences.sanctions[k].effects);
  const silence = effects.map((e) => (s.mechanisms.silencing ? e.silence : 0));
  const confine = effects.map((e) => (s.mechanisms.confinement ? e.confine : 0));
  const arrest = effects.map((e) => (s.mechanisms.confinement ? e.houseArrest : 0));
  for (let m = 1; m < size; m++) {
    for (let k = 0; k < SANCTIONS.length; k++) {
      if (!(m & (1 << k))) continue;
      speechKept[m] *= 1 - silence[k];
      publicKept[m] *= 1 - arrest[k];
      travelKept[m] *= 1 - confine[k];
    }
  }
  const childBits = s.mechanisms.sanctionsReachChildren ? effects.reduce((b, e, k) => (e.children ? b | (1 << k) : b), 0) : 0;
  return { speechKept, publicKept, travelKept, childBits };
}

/**
 * An income is the citizen's base income (identity) times the effects of the sanctions and
 * privileges held: between the product of every lowering effect and that of every raising one,
 * over every scenario the run puts in force (a timeline can change them; a margin for Float32
 * rounding).
 */
function incomeRange({ s: given, c }: Rebuilt): Valid {
  let lo = 1, hi = 1;
  for (const s of scenariosInForce(given)) {
    // An informant's rewards are income too (model/informants.ts), with no ceiling.
    if (s.observation.informants.rewardIncomeDays > 0) hi = Infinity;
    if (!s.mechanisms.incomeFeedback) continue;
    let down = 1, up = 1;
    for (const r of [...SANCTIONS.map((k) => s.consequences.sanctions[k]), ...PRIVILEGES.map((k) => s.consequences.privileges[k])]) {
      down *= Math.min(1, 1 + r.incomeEffect);
      up *= Math.max(1, 1 + r.incomeEffect);
    }
    lo = Math.min(lo, down);
    hi = Math.max(hi, up);
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

export function consequencesPhase(
  sim: Sim, lists: Pick<Lists, "listsOf">, rewardIncome: (i: number) => number = () => 0,
): Phase & { blacklisted: DenseSet; redlisted: DenseSet; setIncome(i: number): void } {
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
  const fx = metrics.indexOf(SANCTION_EFFECT_METRICS);
  const { travelKept, speechKept, publicKept, childBits } = sanctionEffectTables(scenario);
  const travelBits = bit(SANCTIONS, TRAVEL);
  const effectsOf = (mask: number) => (speechKept[mask] < 1 ? EFFECT.silenced : 0) | (publicKept[mask] < 1 || (mask & travelBits && travelKept[mask] < 1) ? EFFECT.confined : 0);
  /** The households some member's sanction with children effects reaches, by first member, with the sanctions that do (only the mask of Attempters is used; in set order: it decides the draws). */
  const households = new Attempters();

  const sanctioned = new Attempters();
  const privileged = new Attempters();
  /** People attempt in proportion to their means: the rich fly more (clamped to [0.2, 3]). */
  const meansOf = (income: number) => Math.max(0.2, Math.min(3, income / median));
  /** Keep i in the set of those who hold something of `mask`, with what their attempts read. */
  const keep = (set: Attempters, i: number, mask: number, effects = 0) =>
    mask ? set.set(i, mask, meansOf(citizens.income[i]), citizens.cell[i], citizens.blockedCount[i], effects) : set.delete(i);

  /** Count (sign 1) or uncount (-1) a person in what their effects make them. */
  function countEffects(i: number, effects: number, sign: number): void {
    if (effects & EFFECT.silenced) metrics.addStock(citizens.cell[i], fx.silenced, sign);
    if (effects & EFFECT.confined) metrics.addStock(citizens.cell[i], fx.confined, sign);
  }

  /** The household's minors: its members in the first age band (members are contiguous ids). */
  function* minorsOf(head: number): Generator<number> {
    for (let j = head; j < sim.n && householdOf(citizens, j) === head; j++) if (citizens.age[j] === 0) yield j;
  }

  /** Work out again which sanctions reach household `head`'s minors, after a member's sanctions changed. */
  function refreshHousehold(head: number): void {
    let mask = 0;
    for (let j = head; j < sim.n && householdOf(citizens, j) === head; j++) mask |= citizens.sanctionMask[j] & childBits;
    const p = households.indexOf(head);
    const was = p < 0 ? 0 : households.mask[p];
    if ((mask !== 0) !== (was !== 0)) for (const j of minorsOf(head)) metrics.addStock(citizens.cell[j], fx.childrenBarred, mask ? 1 : -1);
    if (mask) households.set(head, mask, 0, citizens.cell[head], 0); else households.delete(head);
  }
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
    const p = sanctioned.indexOf(i);
    countEffects(i, p < 0 ? 0 : sanctioned.effects[p], -1);
    const effects = effectsOf(sm);
    countEffects(i, effects, 1);
    const reachedChildren = (citizens.sanctionMask[i] | sm) & childBits;
    citizens.sanctionMask[i] = sm;
    citizens.privilegeMask[i] = pm;
    if (reachedChildren || households.indexOf(householdOf(citizens, i)) >= 0) refreshHousehold(householdOf(citizens, i));
    if (onBlack) blacklisted.add(i); else blacklisted.delete(i);
    if (onRed) redlisted.add(i); else redlisted.delete(i);
    setIncome(i);
  }

  /** i's income from what they hold now: the base times the effects of their sanctions and privileges, plus any reward income. */
  function setIncome(i: number): void {
    const sm = citizens.sanctionMask[i], pm = citizens.privilegeMask[i];
    let f = 1;
    if (feedback) {
      for (let k = 0; k < SANCTIONS.length; k++) if (sm & (1 << k)) f *= 1 + sanctionRate[k].incomeEffect;
      for (let k = 0; k < PRIVILEGES.length; k++) if (pm & (1 << k)) f *= 1 + privilegeRate[k].incomeEffect;
    }
    const income = Math.fround(citizens.incomeBase[i] * f + rewardIncome(i));
    metrics.addStock(citizens.cell[i], INCOME_SUM, income - citizens.income[i]);
    citizens.income[i] = income;
    keep(sanctioned, i, sm, effectsOf(sm));
    keep(privileged, i, pm);
  }
  sim.listeners.push((ch) => refresh(ch.agent));
  const sanctionPerDay = sanctionRate.map((r) => r.attemptsPerYear / 365);
  const privilegePerDay = privilegeRate.map((r) => r.attemptsPerYear / 365);

  /**
   * Today's attempts of each person at what their mask allows (one draw per kind, people in set
   * order): a sanction blocks the attempt, and each block makes the next attempt less likely; a
   * privilege is granted. A confined person makes only travelKept of their travel attempts: the
   * rest of the same draw's range is a trip they did not try (prevented, not blocked).
   */
  function attempts(rng: Rng, set: Attempters, kinds: readonly (keyof typeof DT)[], perDay: number[], counted: number[], sanction: boolean): void {
    const day = sim.day;
    const { items, mask, means, cell, blocked } = set;
    for (let a = 0; a < items.length; a++) {
      const kept = sanction ? travelKept[mask[a]] : 1;
      for (let m = mask[a], k = 0; m !== 0; m >>>= 1, k++) {
        if (!(m & 1)) continue;
        const p = sanction ? perDay[k] * means[a] * learned[k][blocked[a]] : perDay[k] * means[a];
        const u = rng.next();
        if (u >= p) continue;
        if (u >= p * kept && travelBits & (1 << k)) {
          metrics.add(day, cell[a], fx.tripsPrevented, 1);
          continue;
        }
        const i = items[a];
        metrics.add(day, cell[a], counted[k], 1);
        if (sanction && blocked[a] < 255) citizens.blockedCount[i] = ++blocked[a];
        record(sim, i, { event: sanction ? EV.blocked : EV.granted, detail: DT[kinds[k]] });
      }
    }
  }

  /** Today's attempts of the minors a sanction reaches (their own stream block: the adults' draws are unchanged). */
  function childrenAttempts(rng: Rng): void {
    const day = sim.day;
    const { items, mask } = households;
    for (let a = 0; a < items.length; a++) {
      const head = items[a];
      for (let j = head; j < sim.n && householdOf(citizens, j) === head; j++) {
        if (citizens.age[j] !== 0) continue; // a minor (see minorsOf)
        for (let m = mask[a], k = 0; m !== 0; m >>>= 1, k++) {
          if (!(m & 1) || rng.next() >= sanctionPerDay[k]) continue;
          metrics.add(day, citizens.cell[j], fx.childrenBlocked, 1);
          record(sim, j, { event: EV.blocked, detail: DT[SANCTIONS[k]] });
        }
      }
    }
  }

  return {
    name: "consequences",
    blacklisted,
    redlisted,
    setIncome,
    state: {
      // The sets in order, then what each sanctioned person is counted in and what reaches each household (under the effects in force when saved).
      save: () => [...[sanctioned, privileged, blacklisted, redlisted].map((set) => set.items), sanctioned.effects, households.items, households.mask],
      restore(saved) {
        // In the saved order (it decides the draws); the rest is read back from the restored world.
        const [s, p, b, r, effects = [], heads = [], masks = []] = saved as number[][];
        s.forEach((i, a) => keep(sanctioned, i, citizens.sanctionMask[i], effects[a] ?? 0));
        heads.forEach((h, a) => households.set(h, masks[a], 0, citizens.cell[h], 0));
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
      // Everyone's base income: the changes of day 0's listings, made before this, are already in the stock.
      if (day === 0) for (let i = 0; i < sim.n; i++) metrics.addStock(citizens.cell[i], INCOME_SUM, citizens.incomeBase[i]);
      const rng = sim.streams.consequences.at(day);
      attempts(rng, sanctioned, SANCTIONS, sanctionPerDay, BLOCKED, true);
      attempts(rng, privileged, PRIVILEGES, privilegePerDay, GRANTED, false);
      if (households.items.length) childrenAttempts(sim.streams.consequences.at(day, 1));
    },
  };
}
