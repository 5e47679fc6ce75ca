// What the system sees. Channels never see ground truth directly: each act gets a chance to be
// seen by the channels that can observe it, and may be attributed to the wrong person; some
// observations are invented outright (model/invented.ts). Every observation keeps who really
// acted (or -1).
import { INFORMANT, FEMALE, friendAt, isSampled, groupOf, isAlive, regionOf, slotStart } from "./world.js";
import { anyAlive } from "./graph.js";
import type { Rng } from "../engine/random.js";
import { BEHAVIOUR_CLASSES, CHANNELS } from "../scenario/schema.js";
import { EV, TRUE, MISATTRIBUTED, INVENTED, DT } from "../metrics/trail.js";
import { BLOCK_SHIFT } from "../engine/shards.js";
import { CHANNEL, createCore, type Core, type ObsColumns, type Phase, type Sim } from "./context.js";
import { answer, kernel, type ShardPartFactory, type ShardResult, type ShardRunner } from "./kernels.js";
import { ShardCounters, type MetricSet } from "../engine/counters.js";
import { inventions } from "./invented.js";
import { countRecorded, recordedLength, type WatchPhase } from "./watch.js";
import { INFORMANT_METRICS, reportProbability as informantReportProbability } from "./informants.js";
import { int32Column } from "../engine/columns.js";

export const OBSERVATION_METRICS = {
  observationsTrue: { name: "observations_true", unit: "observations", description: "Observations of acts the person really did" },
  observationsMisattributed: { name: "observations_misattributed", unit: "observations", description: "Observations charged to someone other than the actor" },
  observationsInvented: { name: "observations_invented", unit: "observations", description: "Observations of acts that never happened" },
  informantRewards: { name: "informant_rewards", unit: "reward units", description: "Rewards paid to informants (by the informant's cell)" },
  falseReports: { name: "false_reports", unit: "reports", description: "False reports filed by informants" },
} satisfies MetricSet;

/**
 * What the channels share, on any thread: recording an observation (into core.obs, the counts
 * and the trail), and drawing the wrong person a misattribution falls on.
 * `recorded` counts punished camera and online observations per region and group, and channel (for targeting: watch.ts).
 */
export function observer(core: Core, recorded: Float64Array) {
  const { s: scenario, c: citizens, g: graph, behaviours } = core;
  const observation = scenario.observation;
  const metrics = core.metrics;
  const at = metrics.indexOf(OBSERVATION_METRICS);
  // By observation kind (TRUE, MISATTRIBUTED, INVENTED).
  const OBS = [at.observationsTrue, at.observationsMisattributed, at.observationsInvented];
  const REWARDS = at.informantRewards;
  const { reportsTrue: REPORTS_TRUE, reportsPaid: REPORTS_PAID } = metrics.indexOf(INFORMANT_METRICS);
  const rewardPerReport = observation.informants.rewardPerReport;
  // Who was paid, in the order paid, for the informants phase to pay into their income (if rewards are income).
  const paid = int32Column();
  const paysIncome = rewardPerReport > 0 && observation.informants.rewardIncomeDays > 0;
  const fmGroup = [1, ...scenario.population.groups.map((gr) => gr.falseMatchMultiplier)];
  const fmMax = Math.max(...fmGroup) * Math.max(1, observation.cameras.femaleFalseMatchMultiplier);
  // Punished acts seen by cameras or online monitoring: what targeting counts, by behaviour * channels + channel.
  const targeted = Uint8Array.from({ length: behaviours.length * CHANNELS.length }, (_, k) => {
    const ch = k % CHANNELS.length;
    return behaviours[Math.floor(k / CHANNELS.length)].punished && (ch === CHANNEL.cameras || ch === CHANNEL.online) ? 1 : 0;
  });
  const falseMatchWeight = (v: number) => fmGroup[groupOf(core, v)] * (citizens.flags[v] & FEMALE ? observation.cameras.femaleFalseMatchMultiplier : 1);
  // Who an error can fall on for behaviour b: by age band and b's class, 1 if the band does such acts at all.
  const classes = BEHAVIOUR_CLASSES.length;
  const plausible = Uint8Array.from({ length: scenario.population.ageBands.length * classes }, (_, k) => {
    if (observation.errorsFallOn === "anyone") return 1;
    const band = scenario.population.ageBands[Math.floor(k / classes)], cls = BEHAVIOUR_CLASSES[k % classes];
    return (band.activity[cls] ?? 1) > 0 ? 1 : 0;
  });
  const canBeSubject = (v: number, b: number) => plausible[citizens.age[v] * classes + behaviours[b].cls] === 1;

  /** Record an observation against `target`, whose cell and trail-sample membership the caller knows. */
  function observeAt(target: number, cell: number, sampled: number, actor: number, b: number, ch: number, kind: number): void {
    core.obs.push(target, actor, b, ch, kind);
    metrics.add(core.day, cell, OBS[kind], 1);
    if (targeted[b * CHANNELS.length + ch]) countRecorded(recorded, core, cell, ch);
    if (sampled) {
      core.trail.record(target, core.day, citizens.score[target], {
        event: EV.observed, behaviour: b, channel: ch, kind,
        other: actor === target ? -1 : actor, detail: kind === INVENTED ? DT["did-not-happen"] : undefined,
      });
    }
  }

  return {
    /** A wrong person near i (same region) who can be subject to act b, drawn in proportion to weight(v) <= 1. */
    nearby(rng: Rng, i: number, b: number, weight: (v: number) => number): number {
      const r = regionOf(core, i);
      const lo = citizens.regionStart[r], span = citizens.regionStart[r + 1] - lo;
      if (span < 2) return -1;
      for (let tries = 0; tries < 200; tries++) {
        const v = lo + rng.int(span);
        if (v !== i && canBeSubject(v, b) && rng.next() < weight(v)) return v;
      }
      return -1;
    },
    // Face recognition confuses some groups and women more; a clerk's misfiling picks anyone.
    faceConfusable: (v: number) => falseMatchWeight(v) / fmMax,
    anyone: () => 1,

    /** A random citizen of region r who can be subject to act b, accepted in proportion to weight(v) <= 1 (rejection sampling). */
    randomIn(rng: Rng, r: number, b: number, weight: (v: number) => number): number {
      const lo = citizens.regionStart[r], span = citizens.regionStart[r + 1] - lo;
      if (span === 0) return -1;
      for (let tries = 0; tries < 200; tries++) {
        const v = lo + rng.int(span);
        if (canBeSubject(v, b) && rng.next() < weight(v)) return v;
      }
      return -1;
    },

    canBeSubject,

    randomFriend(rng: Rng, i: number): number {
      const first = slotStart(graph, i), deg = slotStart(graph, i + 1) - first;
      if (deg === 0 || !anyAlive(graph, first, first + deg)) return -1;
      for (let tries = 0; tries < 8; tries++) {
        const e = first + rng.int(deg);
        if (isAlive(graph, e)) return friendAt(graph, i, e);
      }
      return -1;
    },

    observeAt,
    observe: (target: number, actor: number, b: number, ch: number, kind: number): void =>
      observeAt(target, citizens.cell[target], isSampled(core, target) ? 1 : 0, actor, b, ch, kind),

    /** An informant's report, true or false, paid its reward. */
    reward(informant: number, truly: boolean): void {
      const cell = citizens.cell[informant];
      metrics.add(core.day, cell, REWARDS, rewardPerReport);
      if (truly) metrics.add(core.day, cell, REPORTS_TRUE, 1);
      if (rewardPerReport > 0) metrics.add(core.day, cell, REPORTS_PAID, 1);
      if (paysIncome) paid.push(informant);
    },
    paid,
  };
}

/**
 * The channels' look at one shard's acts (core.acts, from behaviourKernel), into core.obs.
 * Draws come from streams per block of actors, so a shard's draws do not depend on the others.
 */
/** What a shard's look produced: its observations, and the punished camera and online observations per region and group (targeting). */
interface Looked {
  obs: ObsColumns;
  recorded: Float64Array;
  /** The informants paid a reward, in the order paid. */
  paid: Int32Array;
}

export const OBSERVE = kernel<undefined, Looked>("observation", "observe");

export const observationShard: ShardPartFactory = (core) => {
  const observation = observationKernel(core);
  return {
    kernels: {
      observe(day: number): Looked {
        observation.day(day);
        const out = { obs: core.obs.columns(), recorded: observation.recorded.slice(), paid: observation.paid.view().slice() };
        observation.recorded.fill(0);
        observation.paid.length = 0;
        return out;
      },
    },
  };
};

function observationKernel(core: Core): { day(day: number): void; recorded: Float64Array; paid: ReturnType<typeof int32Column> } {
  const { s: scenario, c: citizens, behaviours } = core;
  const observation = scenario.observation;
  const recorded = new Float64Array(recordedLength(core));
  const { observe, observeAt, nearby, faceConfusable, anyone, randomFriend, reward, paid } = observer(core, recorded);
  const shift = BLOCK_SHIFT;
  const cam = core.coverage[CHANNEL.cameras], onl = core.coverage[CHANNEL.online];

  const cameras = observation.cameras.enabled, trueMatch = observation.cameras.trueMatchRate, falseMatch = observation.cameras.falseMatchRate;
  const records = observation.records.enabled, recordsCoverage = observation.records.coverage, clericalError = observation.records.clericalErrorRate;
  const informants = observation.informants.enabled, reportProbability = informantReportProbability(scenario);
  const channelsOf = behaviours.map((b) => b.channels);
  const CAMERAS = CHANNEL.cameras, RECORDS = CHANNEL.records, ONLINE = CHANNEL.online, INFORMANTS = CHANNEL.informants;
  const { flags } = citizens;

  return {
    recorded,
    paid,
    // The look is a function of its own, with nothing after its loop (see act() in behaviour.ts).
    day(day) {
      core.obs.clear();
      look(day);
    },
  };

  function look(day: number): void {
    const { agent, behaviour, cell: actCell, sampled: actSampled } = core.acts;
    const agents = agent.data, bs = behaviour.data, cells = actCell.data, sampledActs = actSampled.data;
    let block = -1;
    let rngCam!: Rng, rngRec!: Rng, rngOnl!: Rng, rngInf!: Rng;
    for (let a = 0; a < agent.length; a++) {
      const i = agents[a], b = bs[a], cell = cells[a], sampled = sampledActs[a];
      if (i >>> shift !== block) {
        block = i >>> shift;
        rngCam = core.streams.cameras.at(day, block);
        rngRec = core.streams.records.at(day, block);
        rngOnl = core.streams.online.at(day, block);
        rngInf = core.streams.informants.at(day, block);
      }
      // The first channel that sees the act records it: one act, at most one record.
      for (const ch of channelsOf[b]) {
        if (ch === CAMERAS) {
          if (!cameras) continue;
          // In view: matched right, matched to someone else nearby, or not matched at all.
          if (rngCam.next() >= cam[cell]) continue;
          const u = rngCam.next();
          if (u < trueMatch) { observeAt(i, cell, sampled, i, b, ch, TRUE); break; }
          if (u < trueMatch + falseMatch) {
            const v = nearby(rngCam, i, b, faceConfusable);
            if (v >= 0) { observe(v, i, b, ch, MISATTRIBUTED); break; }
          }
        } else if (ch === RECORDS) {
          if (!records || rngRec.next() >= recordsCoverage) continue;
          if (rngRec.next() < clericalError) {
            const v = nearby(rngRec, i, b, anyone);
            if (v >= 0) { observe(v, i, b, ch, MISATTRIBUTED); break; }
          }
          observeAt(i, cell, sampled, i, b, ch, TRUE);
          break;
        } else if (ch === ONLINE) {
          if (rngOnl.next() < onl[cell]) { observeAt(i, cell, sampled, i, b, ch, TRUE); break; }
        } else if (ch === INFORMANTS) {
          if (!informants) continue;
          const j = randomFriend(rngInf, i);
          if (j >= 0 && flags[j] & INFORMANT && rngInf.next() < reportProbability) {
            observeAt(i, cell, sampled, i, b, ch, TRUE);
            reward(j, true);
            break;
          }
        }
      }
    }
  }
}

/**
 * The day's observations: every shard's, in shard order, then the invented ones. Those depend on
 * no shard's acts, so the calling thread makes them while the workers finish their look, into a
 * core of its own (its own observations, counts and trail rows), merged after every shard's.
 * They are left as they were made (`made`, views of each thread's buffer on shared memory):
 * the scoring phase's shards each take and sort those held against their own citizens.
 */
export interface ObservationPhase extends Phase {
  /** Today's observations, each shard's and then the invented, in the order made. */
  made(): ObsColumns[];
  /** Today's informants paid a reward, each shard's and then the invented, in the order paid (only if rewards are income). */
  paid(): Int32Array[];
}

export function observationPhase(sim: Sim, watch: Pick<WatchPhase, "recorded">, shards: ShardRunner): ObservationPhase {
  const recorded = watch.recorded;
  let inventing: { core: Core; invent: (day: number) => void; recorded: Float64Array; paid: ReturnType<typeof int32Column> } | undefined;
  /** The day's invented observations, as a shard's answer. */
  function invented(): ShardResult<Looked> {
    if (!inventing) {
      // Built on the first day, once every phase has declared its metrics.
      const shared = { coverage: sim.coverage, detect: sim.detect, listBelow: sim.listBelow, listAtLeast: sim.listAtLeast };
      const core = createCore(sim, new ShardCounters(sim.cells, [...sim.metrics.names]), shared);
      const own = new Float64Array(recordedLength(sim));
      const channels = observer(core, own);
      inventing = { core, invent: inventions(core, channels), recorded: own, paid: channels.paid };
    }
    const { core } = inventing;
    core.day = sim.day;
    core.obs.clear();
    inventing.invent(sim.day);
    const out = answer(core, { obs: core.obs.columns(), recorded: inventing.recorded.slice(), paid: inventing.paid.view().slice() });
    inventing.recorded.fill(0);
    inventing.paid.length = 0;
    return out;
  }
  let made: ObsColumns[] = [];
  let paid: Int32Array[] = [];
  return {
    name: "observation",
    made: () => made,
    paid: () => paid,
    day(sim) {
      const outs = shards.run(OBSERVE, sim.day, undefined, invented);
      for (const { out } of outs) for (let k = 0; k < recorded.length; k++) recorded[k] += out.recorded[k];
      made = outs.map(({ out }) => out.obs);
      paid = outs.map(({ out }) => out.paid);
    },
  };
}
