// What the system sees. Channels never see ground truth directly: each act gets a chance to be
// seen by the channels that can observe it, and may be attributed to the wrong person; some
// observations are invented outright. Every observation keeps who really acted (or -1).
import { INFORMANT, PARTY, FEMALE, friendAt, isSampled, groupOf, isAlive, regionOf, regionOfCell, slotStart } from "../engine/world.js";
import { anyAlive } from "./graph.js";
import type { Rng } from "../engine/random.js";
import { BEHAVIOUR_CLASSES, CHANNELS, type Channel } from "../scenario/schema.js";
import { EV, TRUE, MISATTRIBUTED, INVENTED, DT } from "../metrics/trail.js";
import { BLOCK_SHIFT } from "../engine/shards.js";
import { CHANNEL, READ_AHEAD, answer, createCore, record, type Core, type ObsColumns, type Phase, type Sim } from "./context.js";
import type { ShardResult, ShardRunner } from "./kernels.js";
import { ShardCounters } from "../metrics/daily.js";

export type WatchPhase = Phase & { recorded: Float64Array };

/** Watch phase: today's detection probability per channel and cell, and where the system looks next. */
export function watchPhase(sim: Sim): WatchPhase {
  const { s: scenario, cells, groups } = sim;
  const observation = scenario.observation;
  const groupWatch = [1, ...scenario.population.groups.map((group) => group.watchMultiplier)];
  const informantP = observation.informants.enabled ? observation.informants.share * observation.informants.reportProbability : 0;
  const recorded = new Float64Array(sim.regions);
  const regionPop = new Float64Array(sim.regions);
  for (let r = 0; r < sim.regions; r++) regionPop[r] = sim.c.regionStart[r + 1] - sim.c.regionStart[r];
  const WEIGHT = sim.global.declare("region_watch_max", "Largest regional watch weight (targeting; 1 = even)");
  const targeting = observation.targeting;

  function reallocate(): void {
    // Ensign et al. (2018): allocating by recorded offences feeds on itself; dividing by the
    // current allocation estimates the true rate and breaks the loop.
    const target = new Float64Array(sim.regions);
    let total = 0, popTotal = 0;
    for (let r = 0; r < sim.regions; r++) {
      const perCapita = regionPop[r] ? recorded[r] / regionPop[r] : 0;
      target[r] = targeting.mode === "corrected" ? perCapita / sim.regionWatch[r] : perCapita;
      total += target[r] * regionPop[r];
      popTotal += regionPop[r];
    }
    if (total <= 0) return;
    for (let r = 0; r < sim.regions; r++) {
      sim.regionWatch[r] = (1 - targeting.share) * sim.regionWatch[r] + targeting.share * (target[r] * popTotal) / total;
    }
    recorded.fill(0);
  }

  return {
    name: "watch",
    day(sim) {
      if (targeting.enabled && sim.day > 0 && sim.day % targeting.everyDays === 0) reallocate();
      for (let cell = 0; cell < cells; cell++) {
        const group = cell % groups;
        const urban = Math.floor(cell / groups) % 2;
        const region = Math.floor(cell / groups / 2);
        const watch = groupWatch[group] * sim.regionWatch[region];
        const cam = observation.cameras.enabled ? Math.min(1, (urban ? observation.cameras.coverageUrban : observation.cameras.coverageRural) * watch) : 0;
        // Keyed by channel name, so that the declaration (CHANNELS) sets the order and a channel
        // added there without a coverage here fails to compile instead of shifting the others.
        const covered: Record<Channel, number> = {
          cameras: cam,
          records: observation.records.enabled ? observation.records.coverage : 0,
          online: observation.online.enabled ? Math.min(1, observation.online.coverage * watch) : 0,
          informants: informantP,
          attention: 0,
        };
        for (let ch = 0; ch < CHANNELS.length; ch++) {
          const coverage = covered[CHANNELS[ch]];
          sim.coverage[ch][cell] = coverage;
          sim.detect[ch][cell] = ch === CHANNEL.cameras ? cam * observation.cameras.trueMatchRate : coverage;
        }
      }
      let max = 0;
      for (let r = 0; r < sim.regions; r++) max = Math.max(max, sim.regionWatch[r]);
      sim.global.add(sim.day, 0, WEIGHT, max);
    },
    // Filled by the observation phase: recorded offences per region feed the next reallocation.
    recorded,
    state: { save: () => recorded, restore: (saved) => recorded.set(saved as Float64Array) },
  };
}

/** Declares the observation metrics (on the main thread, before any kernel looks them up). */
function declareObservationMetrics(sim: Sim): void {
  const metrics = sim.metrics;
  metrics.declare("observations_true", "Observations of acts the person really did");
  metrics.declare("observations_misattributed", "Observations charged to someone other than the actor");
  metrics.declare("observations_invented", "Observations of acts that never happened");
  metrics.declare("informant_rewards", "Rewards paid to informants (by the informant's cell)");
  metrics.declare("false_reports", "False reports filed by informants");
}

/**
 * What the channels share, on any thread: recording an observation (into core.obs, the counts
 * and the trail), and drawing the wrong person a misattribution falls on.
 * `recorded` counts punished camera and online observations per region (for targeting).
 */
function observer(core: Core, recorded: Float64Array) {
  const { s: scenario, c: citizens, g: graph, behaviours } = core;
  const observation = scenario.observation;
  const metrics = core.metrics;
  const OBS = ["observations_true", "observations_misattributed", "observations_invented"].map((m) => metrics.find(m)!);
  const REWARDS = metrics.find("informant_rewards")!;
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
    if (targeted[b * CHANNELS.length + ch]) recorded[regionOfCell(cell, core.groups)]++;
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

    reward(informant: number): void {
      metrics.add(core.day, citizens.cell[informant], REWARDS, observation.informants.rewardPerReport);
    },
  };
}

/**
 * The channels' look at one shard's acts (core.acts, from behaviourKernel), into core.obs.
 * Draws come from streams per block of actors, so a shard's draws do not depend on the others.
 */
export function observationKernel(core: Core): { day(day: number): void; recorded: Float64Array } {
  const { s: scenario, c: citizens, behaviours } = core;
  const observation = scenario.observation;
  const recorded = new Float64Array(core.regions);
  const { observe, observeAt, nearby, faceConfusable, anyone, randomFriend, reward } = observer(core, recorded);
  const shift = BLOCK_SHIFT;
  const cam = core.coverage[CHANNEL.cameras], onl = core.coverage[CHANNEL.online];

  const cameras = observation.cameras.enabled, trueMatch = observation.cameras.trueMatchRate, falseMatch = observation.cameras.falseMatchRate;
  const records = observation.records.enabled, recordsCoverage = observation.records.coverage, clericalError = observation.records.clericalErrorRate;
  const informants = observation.informants.enabled, reportProbability = observation.informants.reportProbability;
  const channelsOf = behaviours.map((b) => b.channels);
  const CAMERAS = CHANNEL.cameras, RECORDS = CHANNEL.records, ONLINE = CHANNEL.online, INFORMANTS = CHANNEL.informants;
  const { flags } = citizens;

  return {
    recorded,
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
            reward(j);
            break;
          }
        }
      }
    }
  }
}

/** Block key of the invented observations' draws, apart from every shard block. */
const INVENTED_BLOCK = -1;

/**
 * The day's invented observations, into core.obs after whatever is there: cameras' faces matched
 * where nobody acted (a face on a bus advertisement), online monitoring's innocent posts flagged
 * (both where the channel looks most), informants' false reports against their own contacts,
 * and attention analytics at political education (a noisy reading of a real, or not, state).
 */
function inventions(core: Core, channels: ReturnType<typeof observer>): (day: number) => void {
  const { s: scenario, c: citizens, behaviours } = core;
  const observation = scenario.observation;
  const metrics = core.metrics;
  const FALSE_REPORTS = metrics.find("false_reports")!;
  const { observe, randomIn, randomFriend, reward, canBeSubject } = channels;
  const ACTS = metrics.find("acts")!, PUNISHABLE = metrics.find("acts_punishable")!;

  const informants: number[] = [];
  const members: number[] = [];
  for (let i = 0; i < core.n; i++) {
    if (citizens.flags[i] & INFORMANT) informants.push(i);
    if (citizens.flags[i] & PARTY) members.push(i);
  }
  const byWeight = (ids: number[]) => {
    const total = ids.reduce((a, b) => a + behaviours[b].perDay, 0);
    return { ids, total };
  };
  const punishedBy = (ch: number, cls?: number) =>
    byWeight(behaviours.filter((b) => b.punished && b.channels.includes(ch) && (cls === undefined || b.cls === cls)).map((b) => b.index));
  const phantomPool = punishedBy(CHANNEL.cameras);
  const onlinePool = punishedBy(CHANNEL.online);
  const reportPool = punishedBy(CHANNEL.informants);
  const attention = observation.attention.enabled ? behaviours.find((b) => b.id === observation.attention.behaviour) : undefined;

  const pickBehaviour = (rng: Rng, pool: { ids: number[]; total: number }): number => {
    let x = rng.next() * pool.total;
    for (const b of pool.ids) {
      x -= behaviours[b].perDay;
      if (x < 0) return b;
    }
    return pool.ids[pool.ids.length - 1];
  };

  /** Invented observations in each region: Poisson in the covered population, victims drawn by coverage. */
  function invent(rng: Rng, cov: Float64Array, perYear: number, pool: { ids: number[]; total: number }, ch: number): void {
    if (perYear <= 0) return;
    const perRegion = 2 * core.groups;
    for (let r = 0; r < core.regions; r++) {
      let expected = 0, max = 0;
      for (let cell = r * perRegion; cell < (r + 1) * perRegion; cell++) {
        expected += core.cellPopulation[cell] * cov[cell];
        max = Math.max(max, cov[cell]);
      }
      const count = rng.poisson(expected * perYear / 365);
      for (let k = 0; k < count; k++) {
        const b = pickBehaviour(rng, pool);
        const v = randomIn(rng, r, b, (x) => cov[citizens.cell[x]] / max);
        if (v >= 0) observe(v, -1, b, ch, INVENTED);
      }
    }
  }

  // A chunk of sessions: who sat them and what the kiosk read, drawn first, in the order one at a
  // time would draw them; the members, then their cells, read in loops of their own, many misses
  // in flight at once (one at a time, the session's draw, member and cell were a chain of waits:
  // most of the time the calling thread spent inventing; the member list is cold by then).
  const memberOf = new Int32Array(READ_AHEAD), reading = new Uint8Array(READ_AHEAD);
  let cellsRead = 0; // kept, so that the read-ahead is not dropped
  function attend(rng: Rng, sessions: number): void {
    const att = observation.attention, index = attention!.index;
    for (let k = 0; k < sessions; k++) {
      memberOf[k] = rng.int(members.length);
      const really = rng.next() < att.inattentiveRate;
      const flagged = rng.next() < (really ? att.accuracy : 1 - att.accuracy);
      reading[k] = (really ? 1 : 0) | (flagged ? 2 : 0);
    }
    for (let k = 0; k < sessions; k++) memberOf[k] = members[memberOf[k]];
    let sum = 0;
    for (let k = 0; k < sessions; k++) sum += citizens.cell[memberOf[k]];
    cellsRead += sum;
    const punished = attention!.punished ? 1 : 0;
    for (let k = 0; k < sessions; k++) {
      const m = memberOf[k], really = reading[k] & 1;
      if (really) {
        // Inattention is an act like any other: ground truth counts it, seen or not.
        metrics.add(core.day, citizens.cell[m], ACTS, 1);
        if (punished) metrics.add(core.day, citizens.cell[m], PUNISHABLE, 1);
        record(core, m, { event: EV.act, behaviour: index, detail: DT["really-did-it"] });
      }
      if (reading[k] & 2) observe(m, really ? m : -1, index, CHANNEL.attention, really ? TRUE : INVENTED);
    }
  }

  return (day) => {
    if (observation.cameras.enabled && phantomPool.ids.length) invent(core.streams.cameras.at(day, INVENTED_BLOCK), core.coverage[CHANNEL.cameras], observation.cameras.phantomPerYear, phantomPool, CHANNEL.cameras);
    if (observation.online.enabled && onlinePool.ids.length) invent(core.streams.online.at(day, INVENTED_BLOCK), core.coverage[CHANNEL.online], observation.online.falsePositivePerYear, onlinePool, CHANNEL.online);
    if (observation.informants.enabled && informants.length && reportPool.ids.length) {
      const rngInf = core.streams.informants.at(day, INVENTED_BLOCK);
      const count = rngInf.poisson(informants.length * observation.informants.falseReportsPerYear / 365);
      for (let k = 0; k < count; k++) {
        const j = informants[rngInf.int(informants.length)];
        const v = randomFriend(rngInf, j);
        if (v < 0) continue;
        const b = pickBehaviour(rngInf, reportPool);
        if (!canBeSubject(v, b)) continue; // nobody would report a child for a court default
        observe(v, -1, b, CHANNEL.informants, INVENTED);
        reward(j);
        metrics.add(day, citizens.cell[j], FALSE_REPORTS, 1);
      }
    }
    if (attention && members.length) {
      const rng = core.streams.attention.at(day);
      const count = rng.poisson(members.length * observation.attention.sessionsPerYear / 365);
      for (let from = 0; from < count; from += READ_AHEAD) attend(rng, Math.min(count, from + READ_AHEAD) - from);
    }
  };
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
}

export function observationPhase(sim: Sim, watch: WatchPhase, shards: ShardRunner): ObservationPhase {
  declareObservationMetrics(sim);
  const recorded = watch.recorded;
  let inventing: { core: Core; invent: (day: number) => void; recorded: Float64Array } | undefined;
  /** The day's invented observations, as a shard's answer. */
  function invented(): ShardResult {
    if (!inventing) {
      // Built on the first day, once every phase has declared its metrics.
      const shared = { coverage: sim.coverage, detect: sim.detect, listBelow: sim.listBelow, listAtLeast: sim.listAtLeast };
      const core = createCore(sim, new ShardCounters(sim.cells, [...sim.metrics.names]), shared);
      const own = new Float64Array(sim.regions);
      inventing = { core, invent: inventions(core, observer(core, own)), recorded: own };
    }
    const { core } = inventing;
    core.day = sim.day;
    core.obs.clear();
    inventing.invent(sim.day);
    const out = answer(core, { obs: core.obs.columns(), recorded: inventing.recorded.slice() });
    inventing.recorded.fill(0);
    return out;
  }
  let made: ObsColumns[] = [];
  return {
    name: "observation",
    made: () => made,
    day(sim) {
      const outs = shards.run({ kind: "observe", day: sim.day }, invented);
      for (const out of outs) for (let r = 0; r < sim.regions; r++) recorded[r] += out.recorded![r];
      made = outs.map((out) => out.obs!);
    },
  };
}
