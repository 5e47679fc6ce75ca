// A shard's program: the shard parts of the regime's mechanisms (model/regime.ts) over one
// shard's core, run by task. The calling thread builds it for shard 0 over the live world; each
// worker thread imports this module (engine/shard-worker.ts) and builds it from a ShardSetup.
import type { ShardTask } from "../engine/shard-pool.js";
import type { Shard } from "../engine/shards.js";
import { ShardCounters } from "../engine/counters.js";
import { createCore, putInForce, type Core, type Sim } from "./context.js";
import { makeStreams, type World } from "./world.js";
import { answer, REBUILD, RESTORE, SAVE, type InForce, type ShardPart, type ShardResult, type ShardRunner } from "./kernels.js";
import { SHARD_PARTS } from "./regime.js";

/** What a worker needs to build its shard's core: the world without its streams (rebuilt from the seed). */
export interface ShardSetup {
  world: Omit<World, "streams">;
  metricNames: string[];
  shared: Pick<Core, "coverage" | "detect" | "listBelow" | "listAtLeast">;
  shards: Shard[];
  shard: Shard;
}

/** This module, for the workers to import. */
const SHARD_PROGRAM = import.meta.url;

/** The world's fields as a plain World (a Sim carries more), and what every shard's core shares. */
function shardSetup(sim: Sim, shards: Shard[], shard: Shard): ShardSetup {
  const world: Omit<World, "streams"> = {
    s: sim.s, seed: sim.seed, n: sim.n, days: sim.days, day: 0, regions: sim.regions, groups: sim.groups, cells: sim.cells,
    cellPopulation: sim.cellPopulation, traitLevels: sim.traitLevels, c: sim.c, g: sim.g, regionWatch: sim.regionWatch, sample: sim.sample,
  };
  return { world, metricNames: [...sim.metrics.names], shared: { coverage: sim.coverage, detect: sim.detect, listBelow: sim.listBelow, listAtLeast: sim.listAtLeast }, shards, shard };
}

/** Start the runner's shards: once every phase has declared its metrics and list thresholds, which the kernels look up as they are built. */
export function startShards(sim: Sim, shards: ShardRunner): void {
  shards.pool.start(
    startLocalShard(sim, shards.shards),
    { module: SHARD_PROGRAM, setup: (shard) => shardSetup(sim, shards.shards, shard) },
    (day, answers) => shards.merge(day, answers),
  );
}

/** On a worker thread: the shard's program from its setup (streams rebuilt from the seed). */
export function startShard(setup: ShardSetup): (task: ShardTask) => ShardResult {
  return programOf(setup, makeStreams(setup.world.seed));
}

/** On the calling thread: shard 0's program, over the live world and its streams. */
function startLocalShard(sim: Sim, shards: Shard[]): (task: ShardTask) => ShardResult {
  return programOf(shardSetup(sim, shards, shards[0]), sim.streams);
}

function programOf(setup: ShardSetup, streams: World["streams"]): (task: ShardTask) => ShardResult {
  const core = createCore({ ...setup.world, streams }, new ShardCounters(setup.world.cells, setup.metricNames), setup.shared);
  return shardProgram(core, setup.shard, setup.shards);
}

/** The shard parts over `core`; returns the function that runs one task. */
function shardProgram(core: Core, shard: Shard, shards: Shard[]): (task: ShardTask) => ShardResult {
  const parts = new Map<string, ShardPart>(Object.entries(SHARD_PARTS).map(([name, make]) => [name, make(core, shard, shards)]));
  const owns = (i: number) => i >= shard.lo && i < shard.hi;
  /** Parts built again over the scenario in force, each taking over what its predecessor kept. */
  function rebuild({ scenario, listBelow, listAtLeast }: InForce): void {
    putInForce(core, scenario);
    Object.assign(core, { listBelow, listAtLeast });
    for (const [name, make] of Object.entries(SHARD_PARTS)) {
      const saved = parts.get(name)!.save?.();
      const part = make(core, shard, shards);
      part.restore?.([saved], owns);
      parts.set(name, part);
    }
  }
  return (task) => {
    core.day = task.day;
    core.touched.length = 0;
    if (task.part === SAVE.part && task.kernel === SAVE.name) {
      return answer(core, Object.fromEntries([...parts].filter(([, p]) => p.save).map(([name, p]) => [name, p.save!()])));
    }
    if (task.part === RESTORE.part && task.kernel === RESTORE.name) {
      // Each shard's share of a state saved with any number of shards.
      const saved = task.payload as Record<string, unknown>[];
      for (const [name, p] of parts) p.restore?.(saved.map((s) => s[name]), owns);
      return answer(core, undefined);
    }
    if (task.part === REBUILD.part && task.kernel === REBUILD.name) {
      rebuild(task.payload as InForce);
      return answer(core, undefined);
    }
    const run = parts.get(task.part)?.kernels[task.kernel];
    if (!run) throw new Error(`no such shard task: ${JSON.stringify(task.part)}.${JSON.stringify(task.kernel)}`);
    return answer(core, run(task.day, task.payload as never));
  };
}
