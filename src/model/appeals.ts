// Due process (or its absence): listed people file an appeal (the wrongly listed more often),
// appeals wait in a queue per stage with a daily capacity and a latency, and are decided with
// a given accuracy. The listing stays in force meanwhile. A won appeal lifts the listing and
// restores the record.
import type { MetricSet } from "../engine/counters.js";
import { POINTS_METRICS } from "./points.js";
import type { Rng } from "../engine/random.js";
import { int32Column } from "../engine/columns.js";
import { EV, DT } from "../metrics/trail.js";
import { changeScoreRecorded, record, type Phase, type Sim } from "./context.js";
import type { Lists } from "./lists.js";
import { restoreColumns, saveColumns } from "../engine/checkpoint.js";

export class AppealLog {
  agent = int32Column();
  list = int32Column();
  stage = int32Column();
  filedDay = int32Column();
  decidedDay = int32Column();
  /** 0 lost, 1 won, 2 withdrawn (the person left the list before the decision). */
  outcome = int32Column();
  wrongful = int32Column();
}

interface Queue {
  agent: number[];
  list: number[];
  ready: number[];
  filed: number[];
  head: number;
  credit: number;
}

export const APPEALS_METRICS = {
  filed: { name: "appeals_filed", unit: "appeals", description: "Appeals filed" },
  decided: { name: "appeals_decided", unit: "appeals", description: "Appeals decided" },
  won: { name: "appeals_won", unit: "appeals", description: "Appeals won" },
  wonWrongful: { name: "appeals_won_wrongful", unit: "appeals", description: "Appeals won by people listed wrongly" },
} satisfies MetricSet;
export const APPEALS_QUEUE = {
  queued: { name: "appeals_queued", unit: "appeals", description: "Appeals waiting for a decision", stock: true },
} satisfies MetricSet;

export function appealsPhase(sim: Sim, lists: Lists): Phase & { log: AppealLog; queued(): number } {
  const { s: scenario, c: citizens } = sim;
  const appeals = scenario.appeals;
  const on = scenario.mechanisms.appeals && appeals.enabled;
  const metrics = sim.metrics;
  const { filed: FILED, decided: DECIDED, won: WON, wonWrongful: WON_WRONGFUL } = metrics.indexOf(APPEALS_METRICS);
  const { queued: QUEUED } = sim.global.indexOf(APPEALS_QUEUE);
  const { scoreSum: SCORE_SUM } = metrics.indexOf(POINTS_METRICS);
  const log = new AppealLog();
  const queues: Queue[] = appeals.stages.map(() => ({ agent: [], list: [], ready: [], filed: [], head: 0, credit: 0 }));
  let fileRng: Rng | undefined;
  let fileDay = -1;

  const enqueue = (stage: number, i: number, list: number) => {
    const q = queues[stage];
    q.agent.push(i);
    q.list.push(list);
    q.ready.push(sim.day + appeals.stages[stage].latencyDays);
    q.filed.push(sim.day);
  };

  if (on) {
    sim.listeners.push((ch) => {
      if (!ch.entered || ch.list < 0 || !lists.states[ch.list].black) return;
      if (fileDay !== sim.day) { fileRng = sim.streams.appeals.at(sim.day, 1); fileDay = sim.day; }
      if (fileRng!.next() >= (ch.wrongful ? appeals.fileRateWrongful : appeals.fileRate)) return;
      enqueue(0, ch.agent, ch.list);
      metrics.add(sim.day, citizens.cell[ch.agent], FILED, 1);
      record(sim, ch.agent, { event: EV["appeal-filed"], list: ch.list });
    });
  }

  function decide(stage: number, q: Queue, rng: Rng): void {
    const k = q.head++;
    const i = q.agent[k], li = q.list[k];
    const list = lists.states[li];
    const p = list.pos.get(i);
    const logRow = (outcome: number, wrongful: number) => {
      log.agent.push(i); log.list.push(li); log.stage.push(stage); log.filedDay.push(q.filed[k]);
      log.decidedDay.push(sim.day); log.outcome.push(outcome); log.wrongful.push(wrongful);
    };
    if (p < 0) { logRow(2, 0); return; }
    const wrongful = list.wrongful[p];
    const rightDecision = rng.next() < appeals.stages[stage].accuracy;
    const won = wrongful ? rightDecision : !rightDecision;
    metrics.add(sim.day, citizens.cell[i], DECIDED, 1);
    logRow(won ? 1 : 0, wrongful);
    record(sim, i, { event: EV["appeal-decided"], list: li, detail: won ? DT["appeal-won"] : DT["appeal-lost"], wrongful });
    if (won) {
      metrics.add(sim.day, citizens.cell[i], WON, 1);
      if (wrongful) metrics.add(sim.day, citizens.cell[i], WON_WRONGFUL, 1);
      lists.exit(list, i, DT["appeal-won"]);
      // The record is restored: at least the error-free score, and never below the entry threshold.
      const floor = list.rule.entry.scoreBelow ?? -Infinity;
      const restored = Math.max(citizens.score[i], citizens.errorFree[i], floor);
      if (restored > citizens.score[i]) changeScoreRecorded(sim, i, restored - citizens.score[i], { event: EV.correction, list: li }, SCORE_SUM);
    } else if (stage + 1 < appeals.stages.length && rng.next() < appeals.stages[stage].escalate) {
      enqueue(stage + 1, i, li);
    }
  }

  return {
    name: "appeals",
    log,
    queued: () => queues.reduce((n, q) => n + q.agent.length - q.head, 0),
    // fileRng is a per-day cache (reseeded on the first filing of a day): nothing to keep.
    state: {
      save: () => ({ log: saveColumns(log), queues }),
      restore(saved) {
        const v = saved as { log: unknown; queues: Queue[] };
        restoreColumns(log, v.log);
        queues.forEach((q, k) => Object.assign(q, v.queues[k]));
      },
    },
    day(sim) {
      if (!on) return;
      const rng = sim.streams.appeals.at(sim.day, 0);
      queues.forEach((q, stage) => {
        // Capacity scales with the population so that rates, not counts, carry across sizes.
        const capacity = (appeals.stages[stage].capacityPerMillionPerDay * sim.n) / 1e6;
        q.credit = Math.min(q.credit + capacity, Math.max(1, capacity));
        while (q.head < q.agent.length && q.ready[q.head] <= sim.day && q.credit >= 1) {
          q.credit -= 1;
          decide(stage, q, rng);
        }
      });
      sim.global.setStock(0, QUEUED, queues.reduce((n, q) => n + q.agent.length - q.head, 0));
    },
  };
}
