// The identities docs/validation.md reports (analysis/identities.ts): they hold on a real run,
// and each kind fails on a table made wrong on purpose, so a "holds" in the document means something.
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeScenario } from "./helpers.js";
import { simulate } from "../src/model/simulate.js";
import { checkIdentities, type RunOutput } from "../src/analysis/identities.js";
import { columnName } from "../src/engine/counters.js";
import type { Column } from "../src/io/table.js";
import { listMetrics } from "../src/metrics/list-metrics.js";
import { CONSEQUENCES_METRICS } from "../src/model/consequences.js";

const run = simulate(makeScenario({ days: 30, population: { size: 3_000 } }), { seed: 3, threads: 1 });

/** The run with one value of one column of one table changed by `delta` (the run itself untouched). */
function tampered(r: RunOutput, table: string, column: string, row: number, delta: number): RunOutput {
  const tables = r.tables.map((t) => t.name !== table ? t : {
    ...t,
    columns: t.columns.map((c) => {
      if (c.name !== columnName(column)) return c;
      const data = Float64Array.from(c.data as ArrayLike<number>);
      data[row] += delta;
      return { ...c, data } as Column;
    }),
  });
  return { ...r, tables };
}

const failing = (r: RunOutput) => checkIdentities(r).filter((i) => !i.holds).map((i) => i.statement);

test("every identity holds on a real run, and the lists it checks are not empty", () => {
  const checks = checkIdentities(run);
  assert.deepEqual(checks.filter((i) => !i.holds), []);
  assert.ok(run.summary.lists.some((l) => l.entries > 0 && l.exits > 0), "a list with entries and exits, so the stock identity is tested");
  for (const l of run.scenario.lists) assert.ok(checks.some((i) => i.statement.startsWith(`${l.id}: entries − exits`)), `${l.id} is checked`);
});

test("every identity holds on a warm-started run too (its tables and summary cover the reported days only)", () => {
  const warm = simulate(makeScenario({ days: 30, reportFrom: "2018-01-11", population: { size: 3_000 } }), { seed: 3, threads: 1 });
  assert.equal(warm.tables.find((t) => t.name === "daily")!.rows, 20);
  assert.deepEqual(checkIdentities(warm).filter((i) => !i.holds), []);
});

test("exits inflated by one on one day break the list's stock identity, and only the checks that read exits", () => {
  const list = run.summary.lists.find((l) => l.exits > 0)!.id;
  assert.deepEqual(failing(tampered(run, "daily", listMetrics(list).exits.name, 10, 1)), [
    `${list}: entries − exits each day = change in the number on the list (from empty)`,
    `${list}: the summary's entries and exits = the daily table's`,
    "Each daily metric summed over the regions (daily_region) = the daily total, every day",
  ]);
});

test("a blocked attempt for a sanction no list carries fails; a region's flow out of step with the total fails", () => {
  const idle = CONSEQUENCES_METRICS.blocked_internet.name; // the test scenario's lists do not carry internet
  assert.ok(run.scenario.lists.every((l) => !l.sanctions.includes("internet")));
  assert.ok(failing(tampered(run, "daily", idle, 5, 1)).includes("Blocked attempts = 0 for every sanction no list carries"));
  assert.deepEqual(failing(tampered(run, "daily_region", listMetrics("debtors").entries.name, 7, 1)),
    ["Each daily metric summed over the regions (daily_region) = the daily total, every day"]);
});
