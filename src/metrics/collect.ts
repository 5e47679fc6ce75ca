// Reporters over the listed (a small set): income by status and isolation of the blacklisted,
// kept up to date as people enter, leave, change income or lose ties; and, every few days, the
// score distribution of everyone.
import type { MetricSet } from "../engine/counters.js";
import { int32Column, float64Column } from "../engine/columns.js";
import { aliveDegree, initialDegree } from "../model/graph.js";
import type { Phase, Sim } from "../model/context.js";
import { groupOfCell, regionOfCell } from "../model/world.js";
import type { DenseSet } from "../model/consequences.js";
import { restoreColumns, saveColumns } from "../engine/checkpoint.js";
import { IdMap } from "../engine/id-map.js";

export class Distribution {
  day = int32Column();
  region = int32Column();
  group = int32Column();
  bin = int32Column();
  count = float64Column();
}

export const LISTED_METRICS = {
  blacklisted: { name: "blacklisted", unit: "people", description: "People on at least one blacklist", stock: true },
  blacklistedIncomeSum: { name: "blacklisted_income_sum", unit: "income units a day", description: "Sum of their daily incomes", stock: true },
  blacklistedTiesAlive: { name: "blacklisted_ties_alive", unit: "friendships", description: "Friendships the blacklisted still have", stock: true },
  blacklistedTiesInitial: { name: "blacklisted_ties_initial", unit: "friendships", description: "Friendships the blacklisted had at the start", stock: true },
  redlisted: { name: "redlisted", unit: "people", description: "People on at least one redlist", stock: true },
  redlistedIncomeSum: { name: "redlisted_income_sum", unit: "income units a day", description: "Sum of their daily incomes", stock: true },
} satisfies MetricSet;

export function collectPhase(
  sim: Sim, sets: { blacklisted: DenseSet; redlisted: DenseSet },
): Phase & { distribution: Distribution; tieDropped(i: number, j: number): void; incomeChanged(i: number): void } {
  const { s: scenario, c: citizens, g: graph } = sim;
  const metrics = sim.metrics;
  const {
    blacklisted: BLACK, blacklistedIncomeSum: BLACK_INCOME, blacklistedTiesAlive: BLACK_TIES, blacklistedTiesInitial: BLACK_TIES_0,
    redlisted: RED, redlistedIncomeSum: RED_INCOME,
  } = metrics.indexOf(LISTED_METRICS);
  const bins = scenario.metrics.distributionBins;
  const lo = scenario.scoring.min;
  const width = (scenario.scoring.max - scenario.scoring.min) / bins;
  const distribution = new Distribution();
  // What each listed person adds to the stocks now: their income (removed again on leaving, or
  // replaced when a list change moves it). Incomes are float32, so their float64 sums are exact
  // while a cell's sum stays under about 2^29 times its smallest income: the order of additions
  // does not change the total, the same as recounting the listed daily (table hashes unchanged).
  const blackIncome = new IdMap();
  const redIncome = new IdMap();

  /** Add (sign 1) or take away (sign -1) what person i adds to the blacklisted's stocks, or the redlisted's. */
  function countBlack(i: number, sign: number, income: number): void {
    const cell = citizens.cell[i];
    metrics.addStock(cell, BLACK, sign);
    metrics.addStock(cell, BLACK_INCOME, sign * income);
    metrics.addStock(cell, BLACK_TIES, sign * aliveDegree(graph, i));
    metrics.addStock(cell, BLACK_TIES_0, sign * initialDegree(graph, i));
  }
  function countRed(i: number, sign: number, income: number): void {
    metrics.addStock(citizens.cell[i], RED, sign);
    metrics.addStock(citizens.cell[i], RED_INCOME, sign * income);
  }

  /** After any list change of i (this listener runs after consequences', which updates the sets and the income). */
  function recount(i: number): void {
    const black = blackIncome.get(i), red = redIncome.get(i); // incomes are never negative (the schema): -1 is none
    if (black >= 0) countBlack(i, -1, black);
    if (red >= 0) countRed(i, -1, red);
    blackIncome.delete(i);
    redIncome.delete(i);
    if (sets.blacklisted.has(i)) {
      countBlack(i, 1, citizens.income[i]);
      blackIncome.set(i, citizens.income[i]);
    }
    if (sets.redlisted.has(i)) {
      countRed(i, 1, citizens.income[i]);
      redIncome.set(i, citizens.income[i]);
    }
  }
  sim.listeners.push((ch) => recount(ch.agent));

  /** A friendship between i and j was dropped (shaming): each of them who is blacklisted has one tie fewer. */
  function tieDropped(i: number, j: number): void {
    if (blackIncome.has(i)) metrics.addStock(citizens.cell[i], BLACK_TIES, -1);
    if (blackIncome.has(j)) metrics.addStock(citizens.cell[j], BLACK_TIES, -1);
  }

  // Where each cell's row of bins starts: the pass over everyone then needs no division to find it.
  const rowOfCell = Int32Array.from({ length: sim.cells }, (_, ce) => (regionOfCell(ce, sim.groups) * sim.groups + groupOfCell(ce, sim.groups)) * bins);

  function snapshotDistribution(): void {
    const counts = new Float64Array(sim.regions * sim.groups * bins);
    const { score, cell } = citizens;
    for (let i = 0; i < sim.n; i++) {
      const b = Math.min(bins - 1, Math.max(0, Math.floor((score[i] - lo) / width)));
      counts[rowOfCell[cell[i]] + b]++;
    }
    for (let k = 0; k < counts.length; k++) {
      if (!counts[k]) continue;
      distribution.day.push(sim.day);
      distribution.region.push(Math.floor(k / bins / sim.groups));
      distribution.group.push(Math.floor(k / bins) % sim.groups);
      distribution.bin.push(k % bins);
      distribution.count.push(counts[k]);
    }
  }

  return {
    name: "collect",
    distribution,
    tieDropped,
    // An informant's reward income moved (model/informants.ts): what a listed one adds is replaced.
    incomeChanged: recount,
    state: {
      save: () => saveColumns(distribution),
      restore(saved) {
        restoreColumns(distribution, saved);
        // The stocks themselves are restored with the metrics; what the listed add is their income now.
        blackIncome.clear();
        redIncome.clear();
        for (const i of sets.blacklisted.items) blackIncome.set(i, citizens.income[i]);
        for (const i of sets.redlisted.items) redIncome.set(i, citizens.income[i]);
      },
    },
    day(sim) {
      if (sim.day % scenario.metrics.distributionEveryDays === 0 || sim.day === sim.days - 1) snapshotDistribution();
    },
  };
}
