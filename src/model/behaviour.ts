// Ground truth: what people really do each day. The hot loop of the simulator.
//
// Why it is fast: each citizen has a fixed upper bound on their daily hazard (no deterrence,
// lowest income their sanctions could bring), so a citizen-day costs one draw and one compare.
// Only below the bound (a few percent of days) is the exact hazard computed: modifiers that
// depend on where a person lives and whether they were recently penalised (deterrence,
// chilling, incentives) are folded into a small per-cell table each day, and the class, then
// the behaviour, are chosen from that same draw.
//
// The draws (drawClaimed) start a day ahead on the worker threads, the acts run per shard
// (behaviourKernel); the bounds are set where the world is built (hazardBounds), and the phase
// on the main thread sets the chilling baseline.
import { BEHAVIOUR_CLASSES, type Scenario } from "../scenario/schema.js";
import { BLOCK } from "../engine/shards.js";
import { lowerBound } from "../engine/order.js";
import { int32Column, float64Column, sharedInt32Column, sharedFloat64Column } from "../engine/columns.js";
import type { MetricSet } from "../engine/counters.js";
import { scenariosInForce } from "../scenario/timeline.js";
import { HAZARD_LIMIT, TRAITS, groupOfCell, hazardBoundCode, inTrailSample, type IdentityColumns } from "./world.js";
import { EV, DT } from "../metrics/trail.js";
import { CHANNEL, CLASS, READ_AHEAD, behaviourInfo, type Core, type Phase, type Sim } from "./context.js";
import { kernel, type ShardPartFactory, type ShardRunner } from "./kernels.js";
import { SANCTION_EFFECT_METRICS, sanctionEffectTables } from "./consequences.js";

const C = BEHAVIOUR_CLASSES.length;

// act() unrolls its hazard sum over the classes in this order, with literal offsets (the
// financial class, second, takes the income stress): kept for speed. A class added, removed or
// moved in BEHAVIOUR_CLASSES fails to compile here until the loop follows.
const UNROLLED = ["public", "financial", "misconduct", "speech", "civic"] as const;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const unrolledInDeclaredOrder: Same<typeof UNROLLED, typeof BEHAVIOUR_CLASSES> = true;
void unrolledInDeclaredOrder;

/**
 * Income stress: low income raises late payment and default (the sanction -> income -> default
 * feedback). 1 at or above the reference income, up to 20 below it; written with min and max,
 * without a branch, because about half the people earn below the reference.
 */
function incomeStress(k: number, reference: number, income: number): number {
  return Math.min(20, Math.max(1, 1 + k * (reference / income - 1)));
}

/** The scenario's elasticity of financial misbehaviour to low income (0 with the feedback off), and the reference income. */
function stressModel(scenario: Scenario): { k: number; reference: number } {
  return { k: scenario.mechanisms.incomeFeedback ? scenario.scoring.incomeStress : 0, reference: scenario.population.income.median };
}

/**
 * Each group's multiplier on each behaviour's true rate, [group * behaviours + b] (group 0: the
 * majority, all 1): the group's `rates` by behaviour id times its `classRates` by class.
 */
export function groupRates(scenario: Scenario): Float64Array {
  const behaviours = scenario.behaviours, B = behaviours.length;
  const out = new Float64Array((scenario.population.groups.length + 1) * B).fill(1);
  scenario.population.groups.forEach((group, g) => {
    behaviours.forEach((b, k) => (out[(g + 1) * B + k] = (group.rates[b.id] ?? 1) * (group.classRates[b.class] ?? 1)));
  });
  return out;
}

/** Deterrence, chilling and incentive strengths under the scenario's secrecy. */
function responses(scenario: Scenario): { published: boolean; det: number; chill: number; incentive: number } {
  const scoring = scenario.scoring;
  const published = scoring.secrecy === "published";
  return {
    published,
    det: scenario.mechanisms.deterrence ? scoring.deterrence * scoring.awareness * (published ? 1 : scoring.secretDeterrence) : 0,
    chill: scenario.mechanisms.chilling ? scoring.chilling * scoring.awareness * (published ? 1 : scoring.secretChilling) : 0,
    incentive: published ? 1 + scoring.incentive * scoring.awareness : 1,
  };
}

/**
 * The citizens' hazard bounds (see the top of this file), filled for ids [from, to): each class's
 * hazard with every modifier at its largest (deterrence and chilling only lower it; incentives at
 * full strength) and the financial class at the lowest income the sanctions could bring. Filled
 * where the world is built (population.ts), region by region on whichever thread fills the
 * region, while its citizens are still in cache.
 */
export function hazardBounds(scenario: Scenario, traitLevels: Float64Array[]): (citizens: IdentityColumns, from: number, to: number) => void {
  // Under a timeline, a bound for every scenario the run puts in force: each class's largest
  // upper rate, and the largest income stress any of them can bring.
  const inForce = scenariosInForce(scenario);
  const groups = scenario.population.groups.length + 1;
  // Per group (each has its own rate multipliers), per class.
  const upperOf = (s: Scenario) => {
    const { incentive } = responses(s);
    const behaviours = behaviourInfo(s), rates = groupRates(s), B = behaviours.length;
    return Array.from({ length: groups }, (_, g) => BEHAVIOUR_CLASSES.map((_, k) =>
      behaviours.filter((b) => b.cls === k).reduce((a, b) => a + b.perDay * (b.rewarded ? incentive : 1) * rates[g * B + b.index], 0)));
  };
  const upper = inForce.map(upperOf).reduce((max, u) => max.map((row, g) => row.map((m, k) => Math.max(m, u[g][k]))));
  // Lowest income the sanctions can bring, as a share of the base (only negative effects count), with each scenario's stress model.
  const stresses = [...new Map(inForce.map((s) => {
    const worstIncome = Object.values(s.consequences.sanctions).reduce((f, r) => f * Math.min(1, 1 + r.incomeEffect), 1);
    const st = { ...stressModel(s), worstIncome };
    return [JSON.stringify(st), st] as const;
  })).values()];
  // Per class, each trait code's hazard at the class's upper rate (the same product the sum had).
  const hazardOf = upper.map((row) => traitLevels.map((levels, k) => levels.map((level) => level * row[k])));
  const FINANCIAL = CLASS.financial;
  return (citizens, from, to) => {
    for (let i = from; i < to; i++) {
      let st = 0;
      for (const stress of stresses) st = Math.max(st, incomeStress(stress.k, stress.reference, citizens.incomeBase[i] * stress.worstIncome));
      let h = 0;
      const own = hazardOf[groupOfCell(citizens.cell[i], groups)];
      for (let k = 0; k < C; k++) h += own[k][citizens.traits[TRAITS * i + k]] * (k === FINANCIAL ? st : 1);
      citizens.hazardBound[i] = hazardBoundCode(h * 1.0001); // rounding margin: the bound must never be below the exact hazard
    }
  };
}

export const BEHAVIOUR_METRICS = {
  acts: { name: "acts", unit: "acts", description: "Acts really done (ground truth)" },
  actsPunishable: { name: "acts_punishable", unit: "acts", description: "Acts really done that the regime punishes" },
  speechActs: { name: "speech_acts", unit: "acts", description: "Speech acts really done" },
  speechBaseline: { name: "speech_baseline", unit: "acts (expected)", description: "Speech acts expected with nobody watching (the chilling baseline)" },
} satisfies MetricSet;

export function behaviourPhase(sim: Sim, shards: ShardRunner): Phase & { drawAhead: Phase } {
  const { cells, behaviours } = sim;
  const metrics = sim.metrics;
  const { speechBaseline: SPEECH_BASE } = metrics.indexOf(BEHAVIOUR_METRICS);

  // Chilling baseline: propensity for speech summed per cell, times the unwatched speech rate (the cell's group's).
  const speechTraitSum = new Float64Array(cells);
  const { traits } = sim.c, speechLevels = sim.traitLevels[CLASS.speech];
  for (let i = 0; i < sim.n; i++) speechTraitSum[sim.c.cell[i]] += speechLevels[traits[TRAITS * i + CLASS.speech]];
  const rates = groupRates(sim.s);
  const speechPerDay = Array.from({ length: sim.groups }, (_, g) =>
    behaviours.filter((b) => b.cls === CLASS.speech).reduce((a, b) => a + b.perDay * rates[g * behaviours.length + b.index], 0));


  let aheadDay = -1; // the day whose draws the workers are making
  const claim = new Int32Array(new SharedArrayBuffer(4)); // the next chunk of blocks to draw, taken by whoever is free
  // A shard's candidates as views: every thread reads its shard's in place (a shard in another
  // process is sent a copy of its rows).
  const within = ({ agent, u }: Candidates, lo: number, hi: number): Candidates => {
    const from = lowerBound(agent, agent.length, lo), to = lowerBound(agent, agent.length, hi);
    return { agent: agent.subarray(from, to), u: u.subarray(from, to) };
  };

  // The day's candidates in citizen order, on shared memory: a worker reads its shard's part in
  // place. Reused each day: a worker has acted on them before it draws the next day's, which
  // they are joined from (it answers tasks in order).
  const joined = { agent: sharedInt32Column(), u: sharedFloat64Column() };
  function join(parts: Candidates[]): Candidates {
    joined.agent.length = joined.u.length = 0;
    for (const p of parts) {
      joined.agent.append(p.agent);
      joined.u.append(p.u);
    }
    return { agent: joined.agent.view(), u: joined.u.view() };
  }

  return {
    name: "behaviour",
    day(sim) {
      const day = sim.day;
      // What the workers have not yet drawn, this thread draws; then it takes theirs.
      if (aheadDay !== day) Atomics.store(claim, 0, 0);
      const drawn = drawClaimed(sim, day, claim);
      if (aheadDay === day) for (const r of shards.takeBackground(DRAW)) drawn.push(...r.out);
      aheadDay = -1;
      const candidates = join(drawn.sort((a, b) => a[0] - b[0]).map(([, part]) => part));
      // Nothing this thread does before the observation phase's task needs the acts' counts and
      // trail rows: they are merged when that task is handed out, and the workers go straight on.
      shards.post(BEHAVE, day, (shard) => within(candidates, shard.lo, shard.hi));
      for (let ce = 0; ce < cells; ce++) metrics.add(day, ce, SPEECH_BASE, speechTraitSum[ce] * speechPerDay[groupOfCell(ce, sim.groups)]);
    },
    /**
     * Tomorrow's draws started on the workers, if there are any, to make while they would wait:
     * placed in the day after the last phase that uses them (model/regime.ts).
     */
    drawAhead: {
      name: "behaviour-draw-ahead",
      day(sim) {
        const day = sim.day + 1;
        if (shards.workers === 0 || day >= sim.days) return;
        Atomics.store(claim, 0, 0);
        shards.startInBackground(DRAW, day, Array.from({ length: shards.workers }, () => claim));
        aheadDay = day;
      },
    },
  };
}

/** The day's behaviour draws, any shard's (they read no state that changes), in chunks taken from a shared counter. */
export const DRAW = kernel<Int32Array, [chunk: number, candidates: Candidates][]>("behaviour", "draw", "seed");
/** The acts of the shard's citizens among the day's candidates (drawCandidates). */
const BEHAVE = kernel<Candidates, undefined>("behaviour", "behave");

export const behaviourShard: ShardPartFactory = (core) => {
  const behave = behaviourKernel(core);
  return {
    kernels: {
      draw: (day: number, claim: Int32Array) => drawClaimed(core, day, claim),
      behave: (day: number, candidates: Candidates) => behave(day, candidates),
    },
  };
};

/** Citizens whose draw fell below their hazard bound, with the draw, in citizen order. */
export interface Candidates {
  agent: Int32Array;
  u: Float64Array;
}

/** Blocks drawn as one piece of work (64 K citizens, under a millisecond): fine enough to share the last ones out. */
const CHUNK_BLOCKS = 16;

type Drawer = Pick<Core, "streams" | "c" | "n" | "draws">;

/**
 * The day's draws, one per citizen, kept only below the citizen's hazard bound (about 3 in 100
 * in china-2018). They depend on nothing that changes during a run, only on the stream and the
 * bounds, so the workers start tomorrow's while the calling thread runs the phases over the
 * listed (simulate.ts), and the calling thread draws what is left when it gets there: each
 * takes chunks of blocks from the shared counter `claim` until none are left. Returns the
 * chunks this thread drew, with their numbers, as views of its `draws` (shared memory, reused
 * each day: they are joined before the thread draws again); the draws of a block are the same
 * whoever makes them.
 */
export function drawClaimed(core: Drawer, day: number, claim: Int32Array): [chunk: number, candidates: Candidates][] {
  emptyDraws(core);
  const drawn: [number, Candidates][] = [];
  for (let k = Atomics.add(claim, 0, 1); k < drawChunks(core.n); k = Atomics.add(claim, 0, 1)) drawn.push([k, drawChunk(core, day, k)]);
  return drawn;
}

/** Start the thread's draws afresh. */
export function emptyDraws(core: Drawer): void {
  core.draws.agent.length = core.draws.u.length = 0;
}

/** How many chunks a day's draws come in. */
export const drawChunks = (n: number): number => Math.ceil(Math.ceil(n / BLOCK) / CHUNK_BLOCKS);

/** The draws of chunk k (CHUNK_BLOCKS blocks), added to the thread's draws. */
export function drawChunk(core: Drawer, day: number, k: number): Candidates {
  const blocks = Math.ceil(core.n / BLOCK);
  return drawCandidates(core, day, k * CHUNK_BLOCKS, Math.min(blocks, (k + 1) * CHUNK_BLOCKS), core.draws);
}

/** The draws of blocks [fromBlock, toBlock) that fall below the citizens' hazard bounds, added to `into`; returns views of what was added. */
export function drawCandidates(
  core: Pick<Core, "streams" | "c" | "n">, day: number, fromBlock: number, toBlock: number,
  into: Core["draws"] = { agent: int32Column(), u: float64Column() },
): Candidates {
  const bound = core.c.hazardBound;
  const { agent, u } = into;
  const from = agent.length;
  for (let block = fromBlock; block < toBlock; block++) {
    core.streams.behaviour.at(day, block).below(bound, HAZARD_LIMIT, block * BLOCK, Math.min(core.n, (block + 1) * BLOCK), agent, u);
  }
  return { agent: agent.data.subarray(from, agent.length), u: u.data.subarray(from, u.length) };
}

/** The day's acts of one shard's citizens, into core.acts (in citizen order), from their candidates. */
export function behaviourKernel(core: Core): (day: number, candidates: Candidates) => void {
  const { s: scenario, cells, behaviours } = core;
  const B = behaviours.length;
  const metrics = core.metrics;
  const { acts: ACTS, actsPunishable: PUNISHABLE, speechActs: SPEECH } = metrics.indexOf(BEHAVIOUR_METRICS);
  const { speechSilenced: SILENCED, publicPrevented: PREVENTED } = metrics.indexOf(SANCTION_EFFECT_METRICS);
  // What a person's sanctions leave of their speech and public acts, by sanction mask: the
  // consequences phase sets the masks after the day's acts, so a ban acts from the next day.
  const { speechKept, publicKept } = sanctionEffectTables(scenario);

  // A day's counts per cell (whole numbers: added once, they sum exactly as per act).
  const actsToday = new Float64Array(cells), punishableToday = new Float64Array(cells), speechToday = new Float64Array(cells);
  const silencedToday = new Float64Array(cells), preventedToday = new Float64Array(cells);
  const punishedOf = Uint8Array.from(behaviours, (b) => (b.punished ? 1 : 0));
  const speechOf = Uint8Array.from(behaviours, (b) => (b.cls === CLASS.speech ? 1 : 0));

  // rate[(cell*2 + alarmed)*C + class]: per-unit-propensity daily hazard; beh[(cell*2+alarmed)*B + b] its parts.
  const rate = new Float64Array(cells * 2 * C);
  const beh = new Float64Array(cells * 2 * B);
  const byClass = BEHAVIOUR_CLASSES.map((_, k) => behaviours.filter((b) => b.cls === k).map((b) => b.index));
  const scoring = scenario.scoring;
  const stress = stressModel(scenario);
  const { published, det, chill, incentive } = responses(scenario);
  const groupRate = groupRates(scenario);

  /** Fold today's watch (which targeting may have moved) into the per-cell tables. */
  function buildTables(): void {
    rate.fill(0);
    for (let cell = 0; cell < cells; cell++) {
      for (let alarmed = 0; alarmed < 2; alarmed++) {
        const row = cell * 2 + alarmed;
        const alarm = alarmed ? 1 + scoring.alarmEffect : 1;
        for (const b of behaviours) {
          let miss = 1;
          for (const ch of b.channels) miss *= 1 - core.detect[ch][cell];
          const watch = 1 - miss;
          let f = 1;
          if (b.cls === CLASS.speech) {
            // Under secret rules every kind of speech is chilled; under published ones only what is punished.
            const speechWatch = Math.max(watch, core.detect[CHANNEL.online][cell]);
            if (!published || b.punished) f = Math.max(0, 1 - chill * alarm * speechWatch);
          } else if (b.punished) {
            f = Math.max(0, 1 - det * alarm * watch);
          } else if (b.rewarded) {
            f = incentive;
          }
          const h = b.perDay * f * groupRate[groupOfCell(cell, core.groups) * B + b.index];
          beh[row * B + b.index] = h;
          rate[row * C + b.cls] += h;
        }
      }
    }
  }

  // A chunk of candidates' state, read first (see the loop below).
  const rowOf = new Int32Array(READ_AHEAD), sampledOf = new Uint8Array(READ_AHEAD);
  const partial = new Float64Array(READ_AHEAD * C);
  // Past the acts' range (partial's last), the speech a ban stopped, then the public acts house arrest did.
  const silencedUpTo = new Float64Array(READ_AHEAD), preventedUpTo = new Float64Array(READ_AHEAD);

  // The day's acts, then their counts: the loop is a function of its own, with nothing after it
  // (see points() in scoring.ts: V8 reuses code compiled while a loop runs, and code after the
  // loop that had not yet run when it was compiled threw it away).
  return (day, candidates) => {
    buildTables();
    act(day, candidates);
    countActs(day);
  };

  function act(day: number, candidates: Candidates): void {
    const { cell, lastPenalty, income, score, sanctionMask } = core.c;
    const { key, cut } = core.sample;
    const { traits } = core.c;
    const levels = core.traitLevels;
    const publicLevels = levels[CLASS.public], financialLevels = levels[CLASS.financial], misconductLevels = levels[CLASS.misconduct];
    const speechLevels = levels[CLASS.speech], civicLevels = levels[CLASS.civic];
    const { k: stressK, reference } = stress;
    // lastPenalty holds 1 + the day (0: never), so "penalised after day x" is lastPenalty > x + 1.
    const alarmAfter = Math.max(0, day - scoring.alarmDays + 1);
    const { agent: actAgent, behaviour: actBehaviour, cell: actCell, sampled: actSampled } = core.acts;
    actAgent.length = actBehaviour.length = actCell.length = actSampled.length = 0;

    const { agent: candidate, u: draw } = candidates;
    for (let from = 0; from < candidate.length; from += READ_AHEAD) {
      const to = Math.min(candidate.length, from + READ_AHEAD);
      // The candidates' state is scattered over the ids: read it, and compute their cumulative
      // hazards by class, in a loop without branches, where many of the cache misses are in
      // flight at once; in the loop that chooses the act, each mispredicted branch discarded
      // the reads begun after it, and they were waited for one at a time.
      for (let a = from, p = 0; a < to; a++, p++) {
        const i = candidate[a];
        const row = cell[i] * 2 + (lastPenalty[i] > alarmAfter ? 1 : 0);
        const r = row * C, q = p * C;
        const st = incomeStress(stressK, reference, income[i]);
        const t = TRAITS * i, mask = sanctionMask[i];
        const pub = publicLevels[traits[t]] * rate[r], speech = speechLevels[traits[t + 3]] * rate[r + 3];
        const h0 = pub * publicKept[mask];
        const h1 = h0 + financialLevels[traits[t + 1]] * rate[r + 1] * st;
        const h2 = h1 + misconductLevels[traits[t + 2]] * rate[r + 2];
        const h3 = h2 + speech * speechKept[mask];
        const h4 = h3 + civicLevels[traits[t + 4]] * rate[r + 4];
        partial[q] = h0;
        partial[q + 1] = h1;
        partial[q + 2] = h2;
        partial[q + 3] = h3;
        partial[q + 4] = h4;
        silencedUpTo[p] = h4 + speech * (1 - speechKept[mask]);
        preventedUpTo[p] = silencedUpTo[p] + pub * (1 - publicKept[mask]);
        rowOf[p] = row;
        sampledOf[p] = inTrailSample(key, cut, i) ? 1 : 0;
      }
      for (let a = from, p = 0; a < to; a++, p++) {
        const u = draw[a], q = p * C;
        if (u >= partial[q + C - 1]) {
          // Past the acts, but below the hazard the person would have without sanctions: an act they stopped.
          if (u < preventedUpTo[p]) {
            if (u < silencedUpTo[p]) silencedToday[rowOf[p] >> 1]++;
            else preventedToday[rowOf[p] >> 1]++;
          }
          continue;
        }
        // Reuse the draw: given u < h4, u is uniform on [0, h4).
        let k = 0;
        while (u >= partial[q + k]) k++;
        const lo = k === 0 ? 0 : partial[q + k - 1], hi = partial[q + k];
        const row = rowOf[p], r = row * C;
        const members = byClass[k];
        let target = ((u - lo) / (hi - lo)) * rate[r + k];
        let b = members[members.length - 1];
        for (let m = 0; m < members.length; m++) {
          target -= beh[row * B + members[m]];
          if (target < 0) { b = members[m]; break; }
        }
        const i = candidate[a], ce = row >> 1;
        actAgent.push(i);
        actBehaviour.push(b);
        actCell.push(ce);
        actSampled.push(sampledOf[p]);
        actsToday[ce]++;
        punishableToday[ce] += punishedOf[b];
        speechToday[ce] += speechOf[b];
        if (sampledOf[p]) core.trail.record(i, day, score[i], { event: EV.act, behaviour: b, detail: DT["really-did-it"] });
      }
    }
  }

  /** The day's counts per cell, added once. */
  function countActs(day: number): void {
    for (let ce = 0; ce < cells; ce++) {
      if (actsToday[ce]) metrics.add(day, ce, ACTS, actsToday[ce]);
      if (punishableToday[ce]) metrics.add(day, ce, PUNISHABLE, punishableToday[ce]);
      if (speechToday[ce]) metrics.add(day, ce, SPEECH, speechToday[ce]);
      if (silencedToday[ce]) metrics.add(day, ce, SILENCED, silencedToday[ce]);
      if (preventedToday[ce]) metrics.add(day, ce, PREVENTED, preventedToday[ce]);
    }
    silencedToday.fill(0);
    preventedToday.fill(0);
    actsToday.fill(0);
    punishableToday.fill(0);
    speechToday.fill(0);
  }
}
