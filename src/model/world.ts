// The world: every citizen's state as structure-of-arrays stores indexed by a dense id,
// plus the per-run constants mechanisms derive from the scenario. No per-citizen objects.
import { BEHAVIOUR_CLASSES, type Scenario } from "../scenario/schema.js";
import { Stream, hashStep } from "../engine/random.js";
import type { ColumnArrays } from "./state-columns.js";
// Types only: the regime's mechanisms import this file.
import type { STATE_COLUMNS } from "./regime.js";

/** Bits of World.flags. */
export const FEMALE = 1, URBAN = 2, INFORMANT = 4, PARTY = 8;

export const NO_DAY = -1_000_000;

/** Propensity codes per citizen, one per behaviour class (Citizens.traits). */
export const TRAITS = BEHAVIOUR_CLASSES.length;

/**
 * The values a citizen's hazard bound can take: 0, then 255 steps of 2^(1/16) up to 1. A bound
 * only has to be at least the hazard, and a byte read per citizen-day instead of four halves what
 * the behaviour loop streams from memory; it costs at most 4.4% more exact-hazard evaluations.
 */
export const HAZARD_BOUND = Float64Array.from({ length: 256 }, (_, k) => (k === 0 ? 0 : 2 ** ((k - 255) / 16)));

/** HAZARD_BOUND times 2^32: the bounds as limits on a generator's 32-bit output (Rng.below). */
export const HAZARD_LIMIT = HAZARD_BOUND.map((b) => b * 4294967296);

/** The smallest code whose bound is at least h. */
export function hazardBoundCode(h: number): number {
  if (!(h > 0)) return 0;
  let k = Math.min(255, Math.max(1, Math.ceil(255 + 16 * Math.log2(h))));
  while (k < 255 && HAZARD_BOUND[k] < h) k++;
  return k;
}

/** The columns the population is built with, from the scenario and seed (model/population.ts):
 *  rebuilt on resume, never restored from a checkpoint. */
export interface IdentityColumns {
  n: number;
  /** Region-major order: the citizens of a region, and of a household, are contiguous ids. */
  regionStart: Int32Array; // length regions + 1
  /** (region * 2 + urban) * groups + group: the unit of behaviour tables and of metrics. */
  cell: Uint16Array;
  age: Uint8Array;
  flags: Uint8Array;
  /** How far back the household's first member is (members are contiguous; see householdOf). */
  householdOffset: Uint8Array;
  /** Daily income before sanctions and privileges. */
  incomeBase: Float32Array;
  /** Propensity per behaviour class (mean 1, log-normal, times the age band's activity), as a
   *  byte code into World.traitLevels[class]: class k of citizen i at [TRAITS * i + k]. A
   *  citizen's five side by side, because the behaviour kernel reads them together for people
   *  scattered over the ids (one cache line, where five arrays cost five). */
  traits: Uint8Array;
  /** Upper bound of the daily hazard of any act, as a code into HAZARD_BOUND (see model/behaviour.ts). */
  hazardBound: Uint8Array;
}

/** Every citizen's columns: the population's, and the state columns each mechanism of the regime
 *  declares in its own file (listed in model/regime.ts). Every typed array here, in Graph and in
 *  World is classified for checkpoints in model/checkpoint-state.ts; an unclassified one does not compile. */
export type Citizens = IdentityColumns & ColumnArrays<typeof STATE_COLUMNS>;

/**
 * The friendships, symmetric, in slots: citizen i's ties are slots slotStart(i) .. slotStart(i+1).
 * Compressed because the graph was two fifths of the state: most friends live within a
 * neighbourhood of a few thousand ids, so a slot holds the friend as a 16-bit difference of ids,
 * and only the rest (long ties, 1 in 10) spill into a 32-bit table. About 23 bytes per citizen
 * instead of 39 with 8 friends (docs/scale.md).
 */
export interface Graph {
  /** slotStart(i) = base[i >> groupShift] + offset[i]: a 32-bit base per group of citizens and a
   *  16-bit offset each (groupShift is the largest, at most 6, whose offsets fit 16 bits). */
  base: Uint32Array;
  offset: Uint16Array;
  groupShift: number;
  /** Per slot: friend - citizen, or FAR when that does not fit 16 bits (the friend is then in far). */
  near: Int16Array;
  /** The friends of FAR slots, in slot order. */
  far: Uint32Array;
  /** farBefore[e >> 5]: FAR slots before slot e & ~31 (the rest of the count is one cache line of near). */
  farBefore: Uint32Array;
  /** One bit per slot: the tie is still there (see isAlive). */
  alive: Uint8Array;
}

export const FAR = -32768;

export const slotStart = (graph: Graph, i: number): number => graph.base[i >>> graph.groupShift] + graph.offset[i];

/** How many FAR slots come before slot e: the index into g.far of the next FAR slot from e on. */
export function farRank(graph: Graph, e: number): number {
  let r = graph.farBefore[e >>> 5];
  for (let f = e & ~31; f < e; f++) if (graph.near[f] === FAR) r++;
  return r;
}

/** The friend at slot e of citizen i. (Loops over all of i's slots keep the far rank as they go.) */
export function friendAt(graph: Graph, i: number, e: number): number {
  const d = graph.near[e];
  return d !== FAR ? i + d : graph.far[farRank(graph, e)];
}

/**
 * Who is in the trail sample: citizen i is when hashStep(key, i) < cut (cut 2^32: everyone). It is
 * computed, never stored: a few multiplies, where reading a flag of a scattered citizen is one
 * more cache line to fetch (the hot loops hoist key and cut; others call isSampled).
 */
export interface TrailSample {
  key: number;
  cut: number;
}

export const inTrailSample = (key: number, cut: number, i: number): boolean => hashStep(key, i) < cut;

export const isSampled = (world: Pick<World, "sample">, i: number): boolean => inTrailSample(world.sample.key, world.sample.cut, i);

export interface World {
  s: Scenario;
  seed: number;
  n: number;
  days: number;
  day: number;
  regions: number;
  groups: number; // including the majority group 0
  cells: number;
  cellPopulation: Float64Array;
  /** Per behaviour class, the propensity each trait code stands for (see model/population.ts). */
  traitLevels: Float64Array[];
  c: Citizens;
  g: Graph;
  /** Per-region watch allocation (targeting), population-weighted mean 1. */
  regionWatch: Float64Array;
  sample: TrailSample;
  streams: Record<string, Stream>;
}

/** Is the tie at adjacency slot e still there? (A bit per slot: seven bytes fewer per citizen than a byte.) */
export const isAlive = (graph: Graph, e: number): boolean => ((graph.alive[e >>> 3] >> (e & 7)) & 1) === 1;

export const cellOf = (region: number, urban: number, group: number, groups: number): number =>
  (region * 2 + urban) * groups + group;

// Region and group are read from the cell, which encodes both: two bytes fewer per citizen.
export const regionOfCell = (cell: number, groups: number): number => Math.floor(cell / (2 * groups));
export const groupOfCell = (cell: number, groups: number): number => cell % groups;
export const regionOf = (world: Pick<World, "c" | "groups">, i: number): number => regionOfCell(world.c.cell[i], world.groups);
export const groupOf = (world: Pick<World, "c" | "groups">, i: number): number => groupOfCell(world.c.cell[i], world.groups);

/** Id of the household's first member. */
export const householdOf = (citizens: Citizens, i: number): number => i - citizens.householdOffset[i];

/** Households have at most this many members, so that the offset to the first fits a byte. */
export const MAX_HOUSEHOLD = 256;

/** Named random streams: one per mechanism, so switching one off leaves the others' draws unchanged. */
export function makeStreams(seed: number): Record<string, Stream> {
  const names = [
    "population", "graph", "behaviour", "cameras", "records", "online", "informants", "attention",
    "scoring", "lists", "appeals", "consequences", "shaming", "firms", "trail",
  ];
  return Object.fromEntries(names.map((n) => [n, new Stream(seed, n)]));
}

/** Bytes of state held per citizen, graph included (what `npm run bench` reports). */
export function stateBytesPerCitizen(world: World): number {
  let bytes = 0;
  for (const v of Object.values(world.c)) if (ArrayBuffer.isView(v)) bytes += v.byteLength;
  for (const v of Object.values(world.g)) if (ArrayBuffer.isView(v)) bytes += v.byteLength;
  return bytes / world.n;
}
