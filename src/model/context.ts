// The simulation context shared by the mechanisms: the world, today's buffers between
// phases (acts -> observations -> points), the metric store and the trail.
// A mechanism is a Phase: built once per run (declaring its metrics, precomputing tables),
// then stepped once per day in the order model/regime.ts lists. The hot mechanisms also have
// kernels (model/kernels.ts) that run per shard of citizens, possibly on another thread: a
// kernel sees a Core, the part of the context a shard owns.
import { BEHAVIOUR_CLASSES, CHANNELS, type Behaviour } from "../scenario/schema.js";
import type { World } from "./world.js";
import type { Phase as EnginePhase } from "../engine/day-loop.js";
import { isSampled } from "./world.js";
import { mostlySortedOrder, permute } from "../engine/order.js";
import { GrowableColumn, int32Column, sharedArray, sharedFloat64Column, sharedInt32Column } from "../engine/columns.js";
import { DailyCounters, type MetricIndex, type MetricSet } from "../engine/counters.js";
import { MISATTRIBUTED, REAL_ACTOR, Trail, type TrailRow } from "../metrics/trail.js";

/** A mechanism's day step over the simulation context (engine/day-loop.ts). */
export type Phase = EnginePhase<Sim>;

export interface BehaviourInfo {
  id: string;
  index: number;
  cls: number;
  perDay: number;
  points: number;
  /** Channel indices in the order they get a chance to observe the act. */
  channels: number[];
  /** Punished by points or by a direct listing. */
  punished: boolean;
  rewarded: boolean;
}

export const CHANNEL = Object.fromEntries(CHANNELS.map((c, i) => [c, i])) as Record<(typeof CHANNELS)[number], number>;
export const CLASS = Object.fromEntries(BEHAVIOUR_CLASSES.map((c, i) => [c, i])) as Record<(typeof BEHAVIOUR_CLASSES)[number], number>;

export interface ObsColumns {
  target: Int32Array;
  actor: Int32Array;
  behaviour: Int32Array;
  channel: Int32Array;
  kind: Int32Array;
}
const OBS_FIELDS = ["target", "actor", "behaviour", "channel", "kind"] as const;

/**
 * A buffer of today's observations: who the system holds responsible, who really acted (-1:
 * nobody). On shared memory, so that the observations a thread made, or sorted, reach the other
 * threads without a copy: each buffer is read the same day and written again only the next
 * (a worker answers its tasks in order).
 */
export class Observations {
  target = sharedInt32Column();
  actor = sharedInt32Column();
  behaviour = sharedInt32Column();
  channel = sharedInt32Column();
  kind = sharedInt32Column();
  get length(): number {
    return this.target.length;
  }
  push(target: number, actor: number, behaviour: number, channel: number, kind: number): void {
    this.target.push(target);
    this.actor.push(actor);
    this.behaviour.push(behaviour);
    this.channel.push(channel);
    this.kind.push(kind);
  }
  clear(): void {
    this.target.length = this.actor.length = this.behaviour.length = this.channel.length = this.kind.length = 0;
  }
  /** Rows [lo, hi) as views (shared when posted to another thread). */
  columns(lo = 0, hi = this.length): ObsColumns {
    const out = {} as ObsColumns;
    for (const f of OBS_FIELDS) out[f] = this[f].data.subarray(lo, hi);
    return out;
  }
  append(observations: ObsColumns): void {
    for (const f of OBS_FIELDS) this[f].append(observations[f]);
  }
  /**
   * Only the rows of `parts` (in turn, in order) held against citizens [lo, hi), after what is
   * here; and for each misattributed row whose real actor is in [lo, hi), a REAL_ACTOR row held
   * against that actor, in the same place of the order (the ground truth charges the actor).
   */
  appendHeldIn(parts: ObsColumns[], lo: number, hi: number): void {
    for (const observations of parts) {
      const { target, actor, kind } = observations;
      for (let k = 0; k < target.length; k++) {
        const t = target[k];
        if (t >= lo && t < hi) this.push(t, actor[k], observations.behaviour[k], observations.channel[k], kind[k]);
        const a = actor[k];
        if (kind[k] === MISATTRIBUTED && a >= lo && a < hi) this.push(a, a, observations.behaviour[k], observations.channel[k], REAL_ACTOR);
      }
    }
  }
  /**
   * Order by the person held responsible, keeping the order of each person's observations: a
   * shard sorts those held against its citizens, and anything done per observation in this
   * order is done in the same order whatever the number of shards.
   */
  sortByTarget(): void {
    // Most rows are people's own acts seen, in citizen order: only the others need sorting.
    const order = mostlySortedOrder(this.target.data, this.length, this.actor.data);
    for (const f of OBS_FIELDS) permute(this[f].data, order);
  }
}

/** A citizen entered or left a list. */
export interface ListChange {
  list: number;
  agent: number;
  entered: boolean;
  wrongful: boolean;
  /** Day the listing began. */
  since: number;
  reason: number;
}

/** Where counts go: the run's DailyCounters on the main thread, a shard's ShardCounters in a kernel. */
export interface Counters {
  add(day: number, cell: number, metric: number, v: number): void;
  addStock(cell: number, metric: number, v: number): void;
  indexOf<T extends MetricSet>(set: T): MetricIndex<T>;
}

/** What a kernel sees: the world (shared arrays), the day, and buffers of its own. */
export interface Core extends World {
  metrics: Counters;
  trail: Trail;
  behaviours: BehaviourInfo[];
  /** The day's acts of the shard's citizens, with the actor's cell and whether they are in the trail sample (found once, by behaviour). */
  acts: { agent: GrowableColumn<Int32Array>; behaviour: GrowableColumn<Int32Array>; cell: GrowableColumn<Int32Array>; sampled: GrowableColumn<Int32Array> };
  obs: Observations;
  /** The day's behaviour draws this thread made (behaviour.ts, drawClaimed), on shared memory: the chunks of another thread's shard reach it without a copy. */
  draws: { agent: GrowableColumn<Int32Array>; u: GrowableColumn<Float64Array> };
  /** Citizens whose score changed today into a range where some list could take them (below
   *  `listBelow` or at least `listAtLeast`). */
  touched: GrowableColumn<Int32Array>;
  listBelow: number;
  listAtLeast: number;
  /** Probability, per channel and cell, that an act that channel can see is in its view. */
  coverage: Float64Array[];
  /** Probability that it is recorded against the right person: what deterrence responds to. */
  detect: Float64Array[];
}

export interface Sim extends Core {
  /** Mechanisms that react to listings (appeals, sanctions, shaming) subscribe here. */
  listeners: Array<(change: ListChange) => void>;
  metrics: DailyCounters;
  /** Run-wide counters that have no cell (queue lengths, firm grades), one row per day. */
  global: DailyCounters;
  /** Each list's daily metrics, one "cell" per list (the long table list_daily; model/lists.ts). */
  listDaily: DailyCounters;
  /** A pass changed everyone's score today (then `touched` is not used). */
  allTouched: boolean;
  dates: string[];
}

export function behaviourInfo(scenario: World["s"]): BehaviourInfo[] {
  const listActs = new Set(scenario.lists.flatMap((l) => l.entry.acts));
  return scenario.behaviours.map((b: Behaviour, index): BehaviourInfo => ({
    id: b.id,
    index,
    cls: CLASS[b.class],
    perDay: b.ratePerYear / 365,
    points: b.points,
    channels: b.observedBy.map((ch) => CHANNEL[ch]),
    punished: b.points < 0 || listActs.has(b.id),
    rewarded: b.points > 0,
  }));
}

/** A kernel's context over a world: its own counters, trail and buffers; the world's arrays shared. */
export function createCore(world: World, metrics: Counters, shared: Pick<Core, "coverage" | "detect" | "listBelow" | "listAtLeast">): Core {
  return {
    ...world,
    ...shared,
    metrics,
    trail: new Trail(),
    behaviours: behaviourInfo(world.s),
    acts: { agent: int32Column(), behaviour: int32Column(), cell: int32Column(), sampled: int32Column() },
    obs: new Observations(),
    draws: { agent: sharedInt32Column(), u: sharedFloat64Column() },
    touched: int32Column(),
  };
}

/** Put scenario `s` in force on a context (a timeline's change): the scenario and what is derived from it here. */
export function putInForce(core: Core, s: Core["s"]): void {
  core.s = s;
  core.behaviours = behaviourInfo(s);
}

export function createSim(world: World): Sim {
  const scenario = world.s;
  const start = Date.parse(scenario.startDate + "T00:00:00Z");
  const dates = Array.from({ length: world.days }, (_, d) => new Date(start + d * 86_400_000).toISOString().slice(0, 10));
  const core = createCore(world, new DailyCounters(world.days, world.cells), {
    listBelow: -Infinity,
    listAtLeast: Infinity,
    // Written by the watch phase, read by every shard's kernels.
    coverage: CHANNELS.map(() => sharedArray(Float64Array, world.cells)),
    detect: CHANNELS.map(() => sharedArray(Float64Array, world.cells)),
  });
  return { ...core, metrics: core.metrics as DailyCounters, listeners: [], global: new DailyCounters(world.days, 1, "run-wide metrics"),
    listDaily: new DailyCounters(world.days, scenario.lists.length, "lists' daily metrics"), allTouched: false, dates };
}

/**
 * The phases over the listed take their people in chunks of this many: a chunk's scattered state
 * is read first, in a loop without branches (many cache misses in flight at once), then used while
 * it is still in the core's own cache. A whole list read ahead at once (tens of thousands of people
 * at 1 M, several lines each) no longer fits there. 256 people, about 5 lines each: 80 KB.
 */
export const READ_AHEAD = 256;

export function record(sim: Core, i: number, row: TrailRow): void {
  if (isSampled(sim, i)) sim.trail.record(i, sim.day, sim.c.score[i], row);
}

/** v within the scale [lo, hi]. */
export const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

/**
 * The one place a score changes: clamps to the scale and keeps the per-cell score sum and the
 * touched set. Returns the change actually applied (after Float32 rounding, so that a trail
 * of applied changes telescopes exactly to the score). Callers on the hot path write the
 * trail row themselves, only for sampled citizens; others use changeScoreRecorded.
 */
export function changeScore(sim: Core, i: number, delta: number, scoreSum: number): number {
  const citizens = sim.c;
  const scoring = sim.s.scoring;
  const old = citizens.score[i];
  citizens.score[i] = clamp(old + delta, scoring.min, scoring.max);
  const applied = citizens.score[i] - old;
  if (applied === 0) return 0;
  sim.metrics.addStock(citizens.cell[i], scoreSum, applied);
  markTouched(sim, i);
  return applied;
}

/**
 * Queue a citizen whose score (or error-free score) just changed for the lists' entry check,
 * only if it now lies where some list could take them: most changes are far from every threshold, and
 * checking them later, after the day's work has left the cache, cost more than the change.
 * A citizen may be queued more than once a day; the lists phase sorts the queue and skips repeats.
 */
export function markTouched(sim: Core, i: number): void {
  const v = sim.c.score[i], w = sim.c.errorFree[i];
  // The error-free score too: the error-free record keeps lists of its own (model/lists.ts).
  if (v < sim.listBelow || v >= sim.listAtLeast || w < sim.listBelow || w >= sim.listAtLeast) sim.touched.push(i);
}

/** changeScore, then the trail row for a sampled citizen. */
export function changeScoreRecorded(sim: Core, i: number, delta: number, row: TrailRow, scoreSum: number): number {
  const applied = changeScore(sim, i, delta, scoreSum);
  if (applied !== 0 && isSampled(sim, i)) sim.trail.record(i, sim.day, sim.c.score[i], { ...row, points: applied });
  return applied;
}

/** Change the ground-truth score under the same scale; returns the change applied (for expiry). */
export function changeErrorFree(sim: Core, i: number, delta: number): number {
  const scoring = sim.s.scoring;
  const old = sim.c.errorFree[i];
  sim.c.errorFree[i] = clamp(old + delta, scoring.min, scoring.max);
  return sim.c.errorFree[i] - old;
}

