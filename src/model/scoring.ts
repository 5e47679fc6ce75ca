// Scoring: points per observed act to whoever the system holds responsible, association charges
// to their household and friends, expiry, decay and the pull towards contacts' scores.
// Beside the record, `errorFree` applies only true observations: the ground-truth score.
import { GrowableColumn, int32Column, float64Column } from "../io/table.js";
import { EV, TRUE, DT } from "../metrics/trail.js";
import { SAMPLED } from "../engine/world.js";
import { restoreColumns, saveColumns } from "../engine/checkpoint.js";
import { changeErrorFree, changeScore, changeScoreRecorded, markTouched, type Phase, type Sim } from "./context.js";

const PERIODIC_DAYS = 30; // decay is applied monthly: cheap, and finer than any published rule

interface Expiring {
  agent: GrowableColumn<Int32Array>;
  amount: GrowableColumn<Float64Array>;
  errorFree: GrowableColumn<Float64Array>;
  assoc: GrowableColumn<Float64Array>;
}

export function scoringPhase(sim: Sim): Phase {
  const { s, c, g, behaviours } = sim;
  const sc = s.scoring;
  const M = sim.metrics;
  const SCORE_SUM = M.declare("score_sum", "Sum of scores (divide by population for the mean)", true);
  const PENALTY = M.declare("penalty_points", "Penalty points charged for people's own (observed) acts");
  const REWARD = M.declare("reward_points", "Points gained for observed rewarded acts");
  const ASSOC_CHARGES = M.declare("association_charges", "Penalties charged to someone for another person's act");
  const ASSOC_POINTS = M.declare("association_points", "Penalty points charged through association");
  const assoc = sc.association;
  const associationOn = s.mechanisms.association && assoc.enabled;
  const expiring = new Map<number, Expiring>();
  const newExpiring = (): Expiring => ({ agent: int32Column(), amount: float64Column(), errorFree: float64Column(), assoc: float64Column() });

  function scheduleExpiry(i: number, amount: number, errorFree: number, assocAmount: number): void {
    if (sc.expiryDays <= 0 || (amount === 0 && errorFree === 0)) return;
    const due = sim.day + sc.expiryDays;
    if (due >= sim.days) return;
    let e = expiring.get(due);
    if (!e) expiring.set(due, (e = newExpiring()));
    e.agent.push(i);
    e.amount.push(amount);
    e.errorFree.push(errorFree);
    e.assoc.push(assocAmount);
  }

  // Association is the hottest score change (about ten charges per penalty): its bookkeeping is
  // kept in locals and per-cell accumulators flushed once a day, instead of going through
  // changeScore's general path. Same clamping, same rounding, same trail.
  const { score, errorFree, assocPoints, cell, flags } = c;
  const chargesToday = new Float64Array(sim.cells);
  const pointsToday = new Float64Array(sim.cells);
  const scoreToday = new Float64Array(sim.cells);
  const lo = sc.min, hi = sc.max;
  const expiryOn = sc.expiryDays > 0;

  function charge(j: number, source: number, points: number, trueObs: boolean, b: number, ch: number, detail: number): void {
    const old = score[j];
    const v = old + points;
    score[j] = v < lo ? lo : v > hi ? hi : v;
    const applied = score[j] - old;
    const ce = cell[j];
    chargesToday[ce]++;
    if (applied !== 0) {
      scoreToday[ce] += applied;
      pointsToday[ce] -= applied;
      assocPoints[j] += applied;
      markTouched(sim, j);
      if (flags[j] & SAMPLED) {
        sim.trail.record(j, sim.day, score[j], { event: EV.association, other: source, behaviour: b, channel: ch, detail, points: applied });
      }
    }
    let appliedTrue = 0;
    if (trueObs) {
      const o = errorFree[j];
      const w = o + points;
      errorFree[j] = w < lo ? lo : w > hi ? hi : w;
      appliedTrue = errorFree[j] - o;
    }
    // Expiry reverses what was applied on each side, so clamping at the floor never leaves a residue.
    if (expiryOn) scheduleExpiry(j, applied, appliedTrue, applied);
  }

  function flushCharges(): void {
    for (let ce = 0; ce < sim.cells; ce++) {
      if (!chargesToday[ce]) continue;
      M.add(sim.day, ce, ASSOC_CHARGES, chargesToday[ce]);
      M.add(sim.day, ce, ASSOC_POINTS, pointsToday[ce]);
      M.addStock(ce, SCORE_SUM, scoreToday[ce]);
    }
    chargesToday.fill(0);
    pointsToday.fill(0);
    scoreToday.fill(0);
  }

  function associate(t: number, applied: number, trueObs: boolean, b: number, ch: number): void {
    const h = c.household[t];
    if (assoc.householdShare > 0) {
      for (let j = h; j < sim.n && c.household[j] === h; j++) {
        if (j !== t) charge(j, t, applied * assoc.householdShare, trueObs, b, ch, DT.household);
      }
    }
    if (assoc.friendShare > 0) {
      for (let e = g.start[t]; e < g.start[t + 1]; e++) {
        if (g.alive[e]) charge(g.adj[e], t, applied * assoc.friendShare, trueObs, b, ch, DT.friend);
      }
    }
  }

  function expire(): void {
    const e = expiring.get(sim.day);
    if (!e) return;
    expiring.delete(sim.day);
    for (let k = 0; k < e.agent.length; k++) {
      const i = e.agent.data[k];
      changeScoreRecorded(sim, i, -e.amount.data[k], { event: EV.expiry }, SCORE_SUM);
      changeErrorFree(sim, i, -e.errorFree.data[k]);
      c.assocPoints[i] -= e.assoc.data[k];
    }
  }

  /** Monthly decay of every score towards the initial value (and of the error-free score alike). */
  function decay(): void {
    const f = 1 - Math.pow(1 - sc.decayPerYear, PERIODIC_DAYS / 365);
    for (let i = 0; i < sim.n; i++) {
      const d = (sc.initial - c.score[i]) * f;
      if (d !== 0) changeScoreRecorded(sim, i, d, { event: EV.decay }, SCORE_SUM);
      c.errorFree[i] += (sc.initial - c.errorFree[i]) * f;
      c.assocPoints[i] *= 1 - f;
    }
    sim.allTouched = true;
  }

  /** Each score moves towards the mean score of the person's remaining friends (computed first, then applied). */
  function pull(): void {
    const delta = new Float32Array(sim.n);
    const deltaTrue = new Float32Array(sim.n);
    for (let i = 0; i < sim.n; i++) {
      let sum = 0, sumTrue = 0, k = 0;
      for (let e = g.start[i]; e < g.start[i + 1]; e++) {
        if (!g.alive[e]) continue;
        sum += c.score[g.adj[e]];
        sumTrue += c.errorFree[g.adj[e]];
        k++;
      }
      if (k === 0) continue;
      delta[i] = assoc.pull * (sum / k - c.score[i]);
      deltaTrue[i] = assoc.pull * (sumTrue / k - c.errorFree[i]);
    }
    for (let i = 0; i < sim.n; i++) {
      if (delta[i] === 0) continue;
      const applied = changeScoreRecorded(sim, i, delta[i], { event: EV.pull }, SCORE_SUM);
      c.assocPoints[i] += applied;
      changeErrorFree(sim, i, deltaTrue[i]);
      if (applied < 0) M.add(sim.day, c.cell[i], ASSOC_POINTS, -applied);
    }
    sim.allTouched = true;
  }

  return {
    name: "scoring",
    state: {
      save: () => [...expiring].map(([due, e]) => [due, saveColumns(e)]),
      restore(saved) {
        expiring.clear();
        for (const [due, cols] of saved as [number, unknown][]) {
          const e = newExpiring();
          restoreColumns(e, cols);
          expiring.set(due, e);
        }
      },
    },
    day(sim) {
      const day = sim.day;
      if (day === 0) for (let cell = 0; cell < sim.cells; cell++) M.setStock(cell, SCORE_SUM, sim.cellPopulation[cell] * sc.initial);
      sim.touched.length = 0;
      sim.allTouched = false;
      expire();
      const obs = sim.obs;
      for (let k = 0; k < obs.length; k++) {
        const t = obs.target.data[k], b = obs.behaviour.data[k], ch = obs.channel.data[k], kind = obs.kind.data[k];
        let points = behaviours[b].points;
        if (points === 0) continue;
        if (sc.eventCap > 0) points = Math.max(-sc.eventCap, Math.min(sc.eventCap, points));
        const actor = obs.actor.data[k];
        const applied = changeScore(sim, t, points, SCORE_SUM);
        if (applied !== 0 && c.flags[t] & SAMPLED) {
          sim.trail.record(t, day, c.score[t], { event: EV.points, behaviour: b, channel: ch, kind, other: actor === t ? -1 : actor, points: applied });
        }
        const trueObs = kind === TRUE;
        const appliedTrue = trueObs ? changeErrorFree(sim, t, points) : 0;
        scheduleExpiry(t, applied, appliedTrue, 0);
        if (points < 0) {
          c.lastPenalty[t] = day;
          M.add(day, c.cell[t], PENALTY, -applied);
          if (associationOn && applied !== 0) associate(t, applied, trueObs, b, ch);
        } else {
          M.add(day, c.cell[t], REWARD, applied);
        }
      }
      flushCharges();
      if (sc.decayPerYear > 0 && day > 0 && day % PERIODIC_DAYS === 0) decay();
      if (associationOn && assoc.pull > 0 && day > 0 && day % assoc.pullEveryDays === 0) pull();
    },
  };
}
