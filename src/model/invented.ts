// Observations of acts that never happened: faces matched where nobody acted, innocent posts
// flagged, informants' false reports, and attention analytics at political education.
import { INFORMANT, PARTY } from "./world.js";
import type { Rng } from "../engine/random.js";
import { EV, TRUE, INVENTED, DT } from "../metrics/trail.js";
import { CHANNEL, READ_AHEAD, record, type Core } from "./context.js";
import { OBSERVATION_METRICS, type observer } from "./observation.js";
import { BEHAVIOUR_METRICS } from "./behaviour.js";
import { falseReportsPerYear } from "./informants.js";
/** Block key of the invented observations' draws, apart from every shard block. */
const INVENTED_BLOCK = -1;

/**
 * The day's invented observations, into core.obs after whatever is there: cameras' faces matched
 * where nobody acted (a face on a bus advertisement), online monitoring's innocent posts flagged
 * (both where the channel looks most), informants' false reports against their own contacts,
 * and attention analytics at political education (a noisy reading of a real, or not, state).
 */
export function inventions(core: Core, channels: ReturnType<typeof observer>): (day: number) => void {
  const { s: scenario, c: citizens, behaviours } = core;
  const observation = scenario.observation;
  const metrics = core.metrics;
  const { falseReports: FALSE_REPORTS } = metrics.indexOf(OBSERVATION_METRICS);
  const { observe, randomIn, randomFriend, reward, canBeSubject } = channels;
  const { acts: ACTS, actsPunishable: PUNISHABLE } = metrics.indexOf(BEHAVIOUR_METRICS);

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
      const count = rngInf.poisson(informants.length * falseReportsPerYear(scenario) / 365);
      for (let k = 0; k < count; k++) {
        const j = informants[rngInf.int(informants.length)];
        const v = randomFriend(rngInf, j);
        if (v < 0) continue;
        const b = pickBehaviour(rngInf, reportPool);
        if (!canBeSubject(v, b)) continue; // nobody would report a child for a court default
        observe(v, -1, b, CHANNEL.informants, INVENTED);
        reward(j, false);
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
