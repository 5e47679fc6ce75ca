// Scored firms: compliance acts (tax, environment, product safety, court judgments) seen by
// records, a score with grades, and a blacklist whose firms put their legal representative, a
// citizen, on the lists with entry.firms (model/lists.ts) for as long as the firm is on it.
// Beside the record, each firm's error-free score charges every act to the firm that did it (a
// clerical error files it against another firm): a representative listed for a firm that the
// error-free record would not blacklist is listed wrongly.
//
// Under `assessment: yearly` a firm is graded, like the tax credit rating, on each calendar
// year's record alone: on 1 January the year just ended decides who is blacklisted for the next,
// and every score starts again from `initial`.
import type { MetricSpec } from "../engine/counters.js";
import type { Scenario } from "../scenario/schema.js";
import { NO_DAY } from "./world.js";
import { float64Column, int32Column } from "../engine/columns.js";
import type { Phase, Sim } from "./context.js";
import type { Lists } from "./lists.js";
import { restoreColumns, saveColumns } from "../engine/checkpoint.js";
import { dateOn, dayOf } from "../scenario/timeline.js";

const BLOCK = 65536;
const RECOVERY_EVERY = 30;

export class FirmLog {
  day = int32Column();
  firm = int32Column();
  representative = int32Column();
  entered = int32Column();
  score = float64Column();
}

export interface Firms {
  n: number;
  score: Float32Array;
  representative: Int32Array;
  listed: Uint8Array;
  log: FirmLog;
  gradeOf(score: number): number;
}

/** Run-wide: firms by grade (in the order of their thresholds, highest first) and firms blacklisted. */
export const firmsMetrics = (s: Scenario) => ({
  ...Object.fromEntries([...s.firms.grades].sort((a, b) => b.min - a.min).map((gr) => [`grade_${gr.name}`, { name: `firms_grade_${gr.name}`, unit: "firms", description: `Firms in grade ${gr.name}`, stock: true }])),
  blacklisted: { name: "firms_blacklisted", unit: "firms", description: "Firms on the blacklist", stock: true },
}) as Record<string, MetricSpec> & { blacklisted: MetricSpec };

export function firmsPhase(sim: Sim, lists: Lists): Phase & { firms: Firms } {
  const { s: scenario, c: citizens } = sim;
  const firms = scenario.firms;
  const on = scenario.mechanisms.firms && firms.enabled;
  const n = on ? Math.round(firms.perCitizen * sim.n) : 0;
  const rng0 = sim.streams.firms.at(NO_DAY);
  const representative = new Int32Array(n);
  const trait = new Float32Array(n);
  const shift = -0.5 * firms.propensitySigma * firms.propensitySigma;
  // Legal representatives are adults: people whose age band does financial business.
  const adultBand = scenario.population.ageBands.map((b) => (b.activity.financial ?? 1) > 0);
  if (n && !adultBand.some(Boolean)) throw new Error("firms need legal representatives: no age band in population.ageBands does financial acts");
  for (let k = 0; k < n; k++) {
    let i = rng0.int(sim.n);
    while (!adultBand[citizens.age[i]]) i = rng0.int(sim.n);
    representative[k] = i;
    trait[k] = Math.exp(shift + firms.propensitySigma * rng0.normal());
  }
  const score = new Float32Array(n).fill(firms.initial);
  const listed = new Uint8Array(n);
  const errorFree = new Float32Array(n).fill(firms.initial);
  const listedErrorFree = new Uint8Array(n);
  const rates = firms.behaviours.map((b) => b.ratePerYear / 365);
  const totalRate = rates.reduce((a, b) => a + b, 0);
  const grades = [...firms.grades].sort((a, b) => b.min - a.min);
  const gradeOf = (v: number) => {
    const k = grades.findIndex((gr) => v >= gr.min);
    return k < 0 ? grades.length - 1 : k;
  };
  const at = sim.global.indexOf(firmsMetrics(scenario));
  const GRADE = grades.map((gr) => at[`grade_${gr.name}`]);
  const LISTED = at.blacklisted;
  const log = new FirmLog();
  const rec = scenario.observation.records;
  const yearly = firms.assessment === "yearly";
  /** The day this run's current assessment year began (its first day for the year it starts in). */
  const yearBegan = (day: number) => Math.max(0, dayOf(scenario.startDate, `${dateOn(scenario.startDate, day).slice(0, 4)}-01-01`));

  function setListed(k: number, v: boolean): void {
    if (Boolean(listed[k]) === v) return;
    listed[k] = v ? 1 : 0;
    nListed += v ? 1 : -1;
    const i = representative[k];
    log.day.push(sim.day); log.firm.push(k); log.representative.push(i); log.entered.push(v ? 1 : 0); log.score.push(score[k]);
    lists.firmListing(i, v ? 1 : -1, false);
  }

  function setListedErrorFree(k: number, v: boolean): void {
    if (Boolean(listedErrorFree[k]) === v) return;
    listedErrorFree[k] = v ? 1 : 0;
    lists.firmListing(representative[k], v ? 1 : -1, true);
  }

  // Only firms whose score moved can change list or grade: they are noted, and the counts by
  // grade kept, rather than every firm re-read daily.
  const moved = int32Column();
  const inGrade = new Float64Array(grades.length);
  let nListed = 0;
  function recount(): void {
    inGrade.fill(0);
    for (let k = 0; k < n; k++) inGrade[gradeOf(score[k])]++;
    nListed = listed.reduce((a, b) => a + b, 0);
  }
  recount();

  /** The year ended: its record decides who is blacklisted for the next (the error-free record's first), and the new year starts clean. */
  function assessYear(): void {
    for (let k = 0; k < n; k++) setListedErrorFree(k, errorFree[k] < firms.blacklistBelow);
    for (let k = 0; k < n; k++) setListed(k, score[k] < firms.blacklistBelow);
    score.fill(firms.initial);
    errorFree.fill(firms.initial);
    recount();
  }

  const bounded = (v: number) => Math.max(firms.min, Math.min(firms.max, v));
  /** p points to the record of firm k, and pTrue to the error-free score of the firm `actor` that really acted. */
  function addPoints(k: number, p: number, actor = k, pTrue = p): void {
    const before = errorFree[actor];
    errorFree[actor] = bounded(before + pTrue);
    if (errorFree[actor] !== before) moved.push(actor);
    const old = score[k];
    score[k] = bounded(old + p);
    if (score[k] === old) return;
    inGrade[gradeOf(old)]--;
    inGrade[gradeOf(score[k])]++;
    moved.push(k);
  }

  return {
    name: "firms",
    firms: { n, score, representative, listed, log, gradeOf },
    // Representatives and propensities are drawn again from the seed when the phase is built.
    state: {
      save: () => ({ score, listed, errorFree, listedErrorFree, log: saveColumns(log) }),
      restore(saved) {
        const v = saved as { score: Float32Array; listed: Uint8Array; errorFree: Float32Array; listedErrorFree: Uint8Array; log: unknown };
        score.set(v.score);
        listed.set(v.listed);
        errorFree.set(v.errorFree);
        listedErrorFree.set(v.listedErrorFree);
        restoreColumns(log, v.log);
        recount();
      },
    },
    day(sim) {
      if (!n) return;
      const day = sim.day;
      const sinceYearBegan = yearly ? day - yearBegan(day) : day;
      if (yearly && day > 0 && sinceYearBegan === 0) assessYear();
      for (let block = 0; block * BLOCK < n; block++) {
        const rng = sim.streams.firms.at(day, block);
        for (let k = block * BLOCK; k < Math.min(n, (block + 1) * BLOCK); k++) {
          const u = rng.next();
          if (u >= trait[k] * totalRate) continue;
          let x = u / trait[k];
          let b = rates.length - 1;
          for (let m = 0; m < rates.length; m++) { x -= rates[m]; if (x < 0) { b = m; break; } }
          if (!rec.enabled || rng.next() >= rec.coverage) continue;
          // A clerical error files the act against another firm.
          const target = rng.next() < rec.clericalErrorRate ? rng.int(n) : k;
          addPoints(target, firms.behaviours[b].points, k);
        }
      }
      if (sinceYearBegan > 0 && sinceYearBegan % RECOVERY_EVERY === 0) {
        const gain = (firms.recoveryPerYear * RECOVERY_EVERY) / 365;
        for (let k = 0; k < n; k++) addPoints(k, gain);
      }
      // In firm order, as a pass over every firm would list them (listing drives later draws).
      const changed = yearly ? new Int32Array(0) : day === 0 ? Int32Array.from({ length: n }, (_, k) => k) : moved.view().sort();
      // The error-free record's listings first, so that a listing made today knows its twin.
      for (let m = 0; m < changed.length; m++) {
        const k = changed[m];
        if (m === 0 || k !== changed[m - 1]) setListedErrorFree(k, errorFree[k] < firms.blacklistBelow);
      }
      for (let m = 0; m < changed.length; m++) {
        const k = changed[m];
        if (m === 0 || k !== changed[m - 1]) setListed(k, score[k] < firms.blacklistBelow);
      }
      moved.length = 0;
      inGrade.forEach((v, gi) => sim.global.setStock(0, GRADE[gi], v));
      sim.global.setStock(0, LISTED, nListed);
    },
  };
}
