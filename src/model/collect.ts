// End-of-day reporters over the listed (a small set): income by status and isolation of the
// blacklisted; and, every few days, the score distribution of everyone.
import { int32Column, float64Column } from "../io/table.js";
import { aliveIn } from "./graph.js";
import { READ_AHEAD, type Phase, type Sim } from "./context.js";
import { groupOf, regionOf, slotStart } from "../engine/world.js";
import type { DenseSet } from "./consequences.js";
import { restoreColumns, saveColumns } from "../engine/checkpoint.js";

export class Distribution {
  day = int32Column();
  region = int32Column();
  group = int32Column();
  bin = int32Column();
  count = float64Column();
}

export function collectPhase(sim: Sim, sets: { blacklisted: DenseSet; redlisted: DenseSet }): Phase & { distribution: Distribution } {
  const { s, c, g } = sim;
  const M = sim.metrics;
  const BLACK = M.declare("blacklisted", "People on at least one blacklist", true);
  const BLACK_INCOME = M.declare("blacklisted_income_sum", "Sum of their daily incomes", true);
  const BLACK_TIES = M.declare("blacklisted_ties_alive", "Friendships the blacklisted still have", true);
  const BLACK_TIES_0 = M.declare("blacklisted_ties_initial", "Friendships the blacklisted had at the start", true);
  const RED = M.declare("redlisted", "People on at least one redlist", true);
  const RED_INCOME = M.declare("redlisted_income_sum", "Sum of their daily incomes", true);
  const bins = s.metrics.distributionBins;
  const lo = s.scoring.min;
  const width = (s.scoring.max - s.scoring.min) / bins;
  const distribution = new Distribution();
  const stocks = [BLACK, BLACK_INCOME, BLACK_TIES, BLACK_TIES_0, RED, RED_INCOME];
  const slotOf = new Float64Array(2 * READ_AHEAD), incomeOf = new Float64Array(READ_AHEAD), cellOf = new Int32Array(READ_AHEAD);

  function snapshotDistribution(): void {
    const counts = new Float64Array(sim.regions * sim.groups * bins);
    for (let i = 0; i < sim.n; i++) {
      const b = Math.min(bins - 1, Math.max(0, Math.floor((c.score[i] - lo) / width)));
      counts[(regionOf(sim, i) * sim.groups + groupOf(sim, i)) * bins + b]++;
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
    state: {
      save: () => saveColumns(distribution),
      restore: (saved) => restoreColumns(distribution, saved),
    },
    day(sim) {
      for (let cell = 0; cell < sim.cells; cell++) for (const k of stocks) M.setStock(cell, k, 0);
      // The blacklisted are scattered over the ids: a chunk's state is read first in a loop without
      // branches, where the processor keeps many cache misses in flight (see READ_AHEAD).
      const black = sets.blacklisted.items;
      const lastByte = g.alive.length - 1;
      for (let from = 0; from < black.length; from += READ_AHEAD) {
        const to = Math.min(black.length, from + READ_AHEAD);
        for (let a = 0; a < to - from; a++) {
          const i = black[from + a];
          const first = slotStart(g, i);
          slotOf[2 * a] = first;
          slotOf[2 * a + 1] = slotStart(g, i + 1);
          incomeOf[a] = c.income[i];
          cellOf[a] = c.cell[i] | (g.alive[Math.min(lastByte, first >>> 3)] << 16); // the high bits only fetch the line
        }
        for (let a = 0; a < to - from; a++) {
          const cell = cellOf[a] & 0xffff, first = slotOf[2 * a], end = slotOf[2 * a + 1];
          M.addStock(cell, BLACK, 1);
          M.addStock(cell, BLACK_INCOME, incomeOf[a]);
          M.addStock(cell, BLACK_TIES, aliveIn(g, first, end));
          M.addStock(cell, BLACK_TIES_0, end - first);
        }
      }
      for (const i of sets.redlisted.items) {
        M.addStock(c.cell[i], RED, 1);
        M.addStock(c.cell[i], RED_INCOME, c.income[i]);
      }
      if (sim.day % s.metrics.distributionEveryDays === 0 || sim.day === sim.days - 1) snapshotDistribution();
    },
  };
}
