// What a run's checkpoint holds (engine/checkpoint.ts writes and signs it): the world's arrays
// classified as identity (built again from the seed, compared, never read) or state (saved, and
// restored only within its valid range), the metric stores, the trail, each phase's state and
// each shard part's. A new typed array in Graph or the context fails to compile until it is
// classified here; a citizen's state column is classified where its mechanism declares it.
import {
  IDENTITY, finishedRows, identityFingerprint, restoreArrays, restoreColumns, restorePhases,
  saveArrays, saveColumns, savePhases, setFinishedRows, state,
  type ArrayClass, type ArrayFields, type ClassifiedStore, type RunState, CheckpointError,
} from "../engine/checkpoint.js";
import type { Citizens, Graph } from "./world.js";
import type { Phase, Sim } from "./context.js";
import type { ShardRunner } from "./kernels.js";
import type { Rebuilt } from "./state-columns.js";
import { STATE_COLUMNS } from "./regime.js";

/** The mechanisms' state columns (model/regime.ts), each restored within the range it declares. */
const STATE_COLUMN_ARRAYS = Object.fromEntries(Object.entries(STATE_COLUMNS).map(([name, column]) => [name, state(column.valid)])) as
  Record<keyof typeof STATE_COLUMNS, ArrayClass<Rebuilt>>;

/** The citizens' arrays (World.c): the population's, then the mechanisms' state columns. */
const CITIZEN_ARRAYS: { [K in ArrayFields<Citizens>]: ArrayClass<Rebuilt> } = {
  regionStart: IDENTITY,
  cell: IDENTITY, // region, urban or rural, group
  age: IDENTITY,
  flags: IDENTITY, // sex, urban, informant, party member
  householdOffset: IDENTITY,
  incomeBase: IDENTITY,
  traits: IDENTITY,
  hazardBound: IDENTITY, // derived from the traits as the population is built
  ...STATE_COLUMN_ARRAYS,
};

/** The friendship graph's arrays (World.g): its layout is identity; which ties were dropped is state. */
const GRAPH_ARRAYS: { [K in ArrayFields<Graph>]: ArrayClass<Rebuilt> } = {
  base: IDENTITY,
  offset: IDENTITY,
  near: IDENTITY,
  far: IDENTITY,
  farBefore: IDENTITY,
  alive: state<Rebuilt>(() => ({ what: "a tie of the rebuilt graph (ties can be dropped, never added)", ok: (v, i, built) => (v & ~built[i]) === 0 })),
};

/** The typed arrays at the top of the simulation's context (World and the day's buffers). */
const TOP_ARRAYS: { [K in ArrayFields<Sim>]: ArrayClass<Rebuilt> } = {
  cellPopulation: IDENTITY,
  regionWatch: state<Rebuilt>(() => ({ what: "a finite weight >= 0", ok: (v) => v >= 0 && v < Infinity })),
};

const stores = (sim: Sim): ClassifiedStore<Rebuilt>[] => [
  { prefix: "", store: sim, classes: TOP_ARRAYS },
  { prefix: "c.", store: sim.c, classes: CITIZEN_ARRAYS },
  { prefix: "g.", store: sim.g, classes: GRAPH_ARRAYS },
];

interface Saved {
  world: unknown;
  stores: { metrics?: { data: Float64Array; stock: Float64Array }; global?: { data: Float64Array; stock: Float64Array }; listDaily?: { data: Float64Array; stock: Float64Array } };
  trail: unknown;
  phases: unknown;
  /** Each shard's parts' state (pending expiry...), restorable onto any number of shards. */
  shards: unknown;
}

/** The run's state for checkpoints: the world's state arrays, metric stores, trail, phases and shard parts. */
export function runState(sim: Sim, phases: Phase[], shards: ShardRunner): RunState {
  return {
    fingerprint: () => identityFingerprint(stores(sim)),
    save: (nextDay): Saved => ({
      world: saveArrays(stores(sim)),
      stores: { metrics: finishedRows(sim.metrics, nextDay), global: finishedRows(sim.global, nextDay), listDaily: finishedRows(sim.listDaily, nextDay) },
      trail: saveColumns(sim.trail),
      phases: savePhases(phases),
      shards: shards.save(sim.day),
    }),
    restore(saved, nextDay) {
      const p = saved as Partial<Saved>;
      restoreArrays(stores(sim), p.world, { s: sim.s, c: sim.c, nextDay });
      setFinishedRows(sim.metrics, p.stores?.metrics, nextDay, "metrics");
      setFinishedRows(sim.global, p.stores?.global, nextDay, "global metrics");
      setFinishedRows(sim.listDaily, p.stores?.listDaily, nextDay, "lists' daily metrics");
      restoreColumns(sim.trail, p.trail);
      restorePhases(phases, p.phases);
      if (!Array.isArray(p.shards) || !p.shards.every((x) => typeof x === "object" && x !== null)) throw new CheckpointError("damaged checkpoint: no state for the shards");
      shards.restore(nextDay, p.shards as Record<string, unknown>[]);
    },
  };
}
