// Turns a finished simulation into the self-describing tables of run.duckdb.
import { describe } from "../engine/counters.js";
import { firstReportedDay } from "../scenario/timeline.js";
import { summarySpec } from "./summary.js";
import { POINTS_METRICS } from "../model/points.js";
import { BEHAVIOUR_METRICS } from "../model/behaviour.js";
import { BEHAVIOUR_CLASSES, CHANNELS } from "../scenario/schema.js";
import type { Column, Table } from "../io/table.js";
import type { Summary } from "../model/result.js";
import { FEMALE, URBAN, INFORMANT, PARTY, groupOfCell, isSampled, householdOf, regionOfCell } from "../model/world.js";
import type { Sim } from "../model/context.js";
import type { ListLog, ListState, Lists } from "../model/lists.js";
import { hasKindSums } from "./list-metrics.js";
import type { AppealLog } from "../model/appeals.js";
import type { FirmLog } from "../model/firms.js";
import type { Distribution } from "./collect.js";
import { aliveDegree, initialDegree } from "../model/graph.js";
import { DETAILS } from "./trail.js";

export interface TableSources {
  sim: Sim;
  listLog: ListLog;
  listStates: ListState[];
  listsOf: Lists["listsOf"];
  appealLog: AppealLog;
  firmLog: FirmLog;
  distribution: Distribution;
  summary: Summary;
}

const num = (name: string, description: string, data: Column["data"], type: "INTEGER" | "DOUBLE" = "DOUBLE"): Column =>
  ({ name, description, type, data } as Column);
const code = (name: string, description: string, labels: readonly string[], data: ArrayLike<number>): Column =>
  ({ name, description, type: "CODE", labels, data } as Column);

/** Daily metrics summed over cells grouped by key(cell): overall, per region, per group. */
function dailyTable(sim: Sim, name: string, description: string, keys: number, keyOf: (cell: number) => number, keyColumn?: (rows: Int32Array) => Column): Table {
  const M = sim.metrics;
  const first = firstReportedDay(sim.s); // the warm-up's days are not reported
  const rows = (sim.days - first) * keys;
  const out = M.names.map(() => new Float64Array(rows));
  const pop = new Float64Array(rows);
  const day = new Int32Array(rows);
  const key = new Int32Array(rows);
  for (let d = first; d < sim.days; d++) {
    const row = (d - first) * keys;
    for (let k = 0; k < keys; k++) { day[row + k] = d; key[row + k] = k; }
    for (let cell = 0; cell < sim.cells; cell++) {
      const r = row + keyOf(cell);
      pop[r] += sim.cellPopulation[cell];
      for (let m = 0; m < M.names.length; m++) out[m][r] += M.get(d, cell, m);
    }
  }
  const { scoreSum } = M.indexOf(POINTS_METRICS), { speechActs, speechBaseline } = M.indexOf(BEHAVIOUR_METRICS);
  const meanScore = out[scoreSum].map((v, r) => (pop[r] ? v / pop[r] : NaN));
  const speech = out[speechActs], base = out[speechBaseline];
  const chilling = base.map((b, r) => (b > 0 ? 1 - speech[r] / b : NaN));
  const columns: Column[] = [
    num("day", "Day of the run (0 = startDate)", day, "INTEGER"),
    code("date", "Calendar date", sim.dates, day),
    ...(keyColumn ? [keyColumn(key)] : []),
    num("population", "Citizens", pop),
    ...M.names.map((n, m) => num(n, describe(M.specs[m]), out[m])),
    num("mean_score", "Mean score", meanScore),
    num("chilling", "1 - speech acts / speech expected with nobody watching", chilling),
  ];
  return { name, description, rows, columns };
}

/**
 * One row per reported day and list: every list's daily metrics, national (the long form, for
 * scenarios with lists that have no columns of their own in the daily tables).
 */
function listDaily(sim: Sim, listIds: string[]): Table {
  const L = sim.listDaily, lists = listIds.length;
  const first = firstReportedDay(sim.s);
  const rows = (sim.days - first) * lists;
  const day = new Int32Array(rows), list = new Int32Array(rows);
  const out = L.names.map(() => new Float64Array(rows));
  for (let d = first, r = 0; d < sim.days; d++) {
    for (let k = 0; k < lists; k++, r++) {
      day[r] = d;
      list[r] = k;
      for (let m = 0; m < L.names.length; m++) out[m][r] = L.get(d, k, m);
    }
  }
  return {
    name: "list_daily", description: "Daily metrics of every list, whole population: one row per day and list", rows,
    columns: [
      num("day", "Day of the run (0 = startDate)", day, "INTEGER"),
      code("date", "Calendar date", sim.dates, day),
      code("list", "List", listIds, list),
      ...L.names.map((n, m) => num(n, describe(L.specs[m]), out[m])),
    ],
  };
}

export function buildTables(x: TableSources): Table[] {
  const { sim, summary } = x;
  const { s, c, g } = sim;
  const regionNames = s.population.regions.map((r) => r.name);
  const groupNames = ["majority", ...s.population.groups.map((gr) => gr.id)];
  const listIds = s.lists.map((l) => l.id);
  const G = sim.groups;
  const regionOf = (cell: number) => regionOfCell(cell, G);
  const groupOf = (cell: number) => groupOfCell(cell, G);

  const daily = dailyTable(sim, "daily", "Daily metrics over the whole population", 1, () => 0);
  for (let k = 0; k < sim.global.names.length; k++) {
    const first = firstReportedDay(s);
    const data = new Float64Array(sim.days - first);
    for (let d = first; d < sim.days; d++) data[d - first] = sim.global.get(d, 0, k);
    daily.columns.push(num(sim.global.names[k], describe(sim.global.specs[k]), data));
  }
  const cellTable = dailyTable(sim, "daily_cell", "Daily metrics per region x urban/rural x group (the finest grain)", sim.cells, (cell) => cell,
    (key) => code("cell", "region/urban|rural/group", Array.from({ length: sim.cells }, (_, cell) =>
      `${regionNames[regionOf(cell)]}/${Math.floor(cell / G) % 2 ? "urban" : "rural"}/${groupNames[groupOf(cell)]}`), key));

  // The trail sample, described: who they are and how they ended.
  const sampled: number[] = [];
  for (let i = 0; i < sim.n; i++) if (isSampled(sim, i)) sampled.push(i);
  const grades = [...s.scoring.grades].sort((a, b) => b.min - a.min);
  const gradeOf = (v: number) => { const k = grades.findIndex((gr) => v >= gr.min); return k; };
  const listLabel = (i: number) => x.listsOf(i).map((k) => listIds[k]).join(",");
  // Wrongful at the end: on a list whose error-free twin does not hold the person (model/lists.ts).
  const wrongfulNow = new Set<number>();
  for (const L of x.listStates) L.members.forEach((i, p) => L.wrongful[p] && wrongfulNow.add(i));
  const errorFreeLists = (i: number) => x.listStates.filter((L) => L.truth.pos.has(i)).map((L) => L.rule.id).join(",");
  const pick = <T>(f: (i: number) => T) => sampled.map(f);
  const citizens: Table = {
    name: "citizens",
    description: "The citizens whose trail is kept (everyone in small runs): who they are and where they ended",
    rows: sampled.length,
    columns: [
      num("agent", "Citizen id", Int32Array.from(sampled), "INTEGER"),
      code("region", "Region", regionNames, pick((i) => regionOf(c.cell[i]))),
      code("group", "Population group", groupNames, pick((i) => groupOf(c.cell[i]))),
      code("age_band", "Age band", s.population.ageBands.map((b) => b.id), pick((i) => c.age[i])),
      { name: "female", description: "Woman", type: "BOOLEAN", data: pick((i) => (c.flags[i] & FEMALE) !== 0) },
      { name: "urban", description: "Lives in a city", type: "BOOLEAN", data: pick((i) => (c.flags[i] & URBAN) !== 0) },
      num("household", "Id of the household's first member", Int32Array.from(pick((i) => householdOf(c, i))), "INTEGER"),
      num("income", "Daily income at the end (after sanctions and privileges)", Float64Array.from(pick((i) => c.income[i]))),
      num("score", "Final score", Float64Array.from(pick((i) => c.score[i]))),
      num("error_free_score", "Score had every channel been right (ground truth)", Float64Array.from(pick((i) => c.errorFree[i]))),
      num("association_points", "Points charged for other people's acts, net", Float64Array.from(pick((i) => c.assocPoints[i]))),
      code("grade", "Final grade", grades.map((gr) => gr.name), pick((i) => gradeOf(c.score[i]))),
      { name: "lists", description: "Lists the citizen is on at the end (comma-separated)", type: "VARCHAR", data: pick(listLabel) },
      { name: "wrongfully_listed", description: "On a list at the end that the error-free record, under the same rules, does not have them on", type: "BOOLEAN", data: pick((i) => wrongfulNow.has(i)) },
      { name: "error_free_lists", description: "Lists the error-free record has the citizen on at the end (comma-separated)", type: "VARCHAR", data: pick(errorFreeLists) },
      num("friends_initial", "Friends at the start", Int32Array.from(pick((i) => initialDegree(g, i))), "INTEGER"),
      num("friends_final", "Friends at the end", Int32Array.from(pick((i) => aliveDegree(g, i))), "INTEGER"),
      { name: "informant", description: "Informs on others", type: "BOOLEAN", data: pick((i) => (c.flags[i] & INFORMANT) !== 0) },
      { name: "party_member", description: "Attends political education (attention analytics)", type: "BOOLEAN", data: pick((i) => (c.flags[i] & PARTY) !== 0) },
    ],
  };

  const L = x.listLog;
  const listEvents: Table = {
    name: "list_events",
    description: "Every entry to and exit from a list, for every citizen",
    rows: L.day.length,
    columns: [
      num("day", "Day", L.day.view(), "INTEGER"),
      code("date", "Calendar date", sim.dates, L.day.view()),
      num("agent", "Citizen id", L.agent.view(), "INTEGER"),
      code("list", "List", listIds, L.list.view()),
      code("event", "enter or exit", ["exit", "enter"], L.entered.view()),
      code("reason", "Why (entry: score-below, act, score-at-least, firm; exit: payment, duration, score-recovered, score-fell, firm, appeal-won)", DETAILS, L.reason.view()),
      { name: "wrongful", description: "Wrongful: the error-free record, under the same rules, does not have the person on this list (on entry: that day; on exit: on the last day listed)", type: "BOOLEAN", data: L.wrongful.view() },
      { name: "via_association", description: "Listed only because of association charges", type: "BOOLEAN", data: L.viaAssoc.view() },
      num("days_on_list", "Days on the list (exits)", L.daysOnList.view(), "INTEGER"),
      code("region", "Region", regionNames, Array.from(L.agent.view(), (i) => regionOf(c.cell[i]))),
      code("group", "Population group", groupNames, Array.from(L.agent.view(), (i) => groupOf(c.cell[i]))),
    ],
  };

  const A = x.appealLog;
  const appeals: Table = {
    name: "appeals",
    description: "Every appeal decision (or withdrawal when the listing ended first)",
    rows: A.agent.length,
    columns: [
      num("agent", "Citizen id", A.agent.view(), "INTEGER"),
      code("list", "List appealed", listIds, A.list.view()),
      num("stage", "Review stage (0 = first)", A.stage.view(), "INTEGER"),
      num("filed_day", "Day filed at this stage", A.filedDay.view(), "INTEGER"),
      num("decided_day", "Day decided", A.decidedDay.view(), "INTEGER"),
      code("outcome", "lost, won or withdrawn", ["lost", "won", "withdrawn"], A.outcome.view()),
      { name: "wrongful", description: "The listing was wrong by ground truth", type: "BOOLEAN", data: A.wrongful.view() },
    ],
  };

  const F = x.firmLog;
  const firmEvents: Table = {
    name: "firm_events",
    description: "Firms entering and leaving the firm blacklist (which restricts their legal representative)",
    rows: F.day.length,
    columns: [
      num("day", "Day", F.day.view(), "INTEGER"),
      num("firm", "Firm id", F.firm.view(), "INTEGER"),
      num("representative", "Citizen id of the legal representative", F.representative.view(), "INTEGER"),
      code("event", "enter or exit", ["exit", "enter"], F.entered.view()),
      num("score", "Firm score at the event", F.score.view()),
    ],
  };

  const D = x.distribution;
  const width = (s.scoring.max - s.scoring.min) / s.metrics.distributionBins;
  const distribution: Table = {
    name: "score_distribution",
    description: `Citizens per score bin, region and group, every ${s.metrics.distributionEveryDays} days and on the last day`,
    rows: D.day.length,
    columns: [
      num("day", "Day", D.day.view(), "INTEGER"),
      code("region", "Region", regionNames, D.region.view()),
      code("group", "Population group", groupNames, D.group.view()),
      num("bin_low", "Lowest score in the bin", Float64Array.from(D.bin.view(), (b) => s.scoring.min + b * width)),
      num("bin_high", "Score above the bin", Float64Array.from(D.bin.view(), (b) => s.scoring.min + (b + 1) * width)),
      num("count", "Citizens", D.count.view()),
    ],
  };

  const regionPop = regionNames.map((_, r) => c.regionStart[r + 1] - c.regionStart[r]);
  const regions: Table = {
    name: "regions", description: "Regions of the synthetic country", rows: regionNames.length,
    columns: [
      num("region_id", "Index", Int32Array.from(regionNames, (_, r) => r), "INTEGER"),
      { name: "region", description: "Name", type: "VARCHAR", data: regionNames },
      num("population", "Citizens", Float64Array.from(regionPop)),
      num("urban_share", "Configured urban share", Float64Array.from(s.population.regions, (r) => r.urbanShare)),
      num("final_watch", "Watch weight at the end (targeting)", Float64Array.from(sim.regionWatch)),
    ],
  };
  const behaviours: Table = {
    name: "behaviours", description: "The behaviour catalogue", rows: s.behaviours.length,
    columns: [
      { name: "behaviour", description: "Id", type: "VARCHAR", data: s.behaviours.map((b) => b.id) },
      code("class", "Class", BEHAVIOUR_CLASSES, s.behaviours.map((b) => BEHAVIOUR_CLASSES.indexOf(b.class))),
      num("rate_per_year", "True rate per person-year before modifiers", s.behaviours.map((b) => b.ratePerYear)),
      num("points", "Points per observed act", s.behaviours.map((b) => b.points)),
      { name: "observed_by", description: "Channels, in order", type: "VARCHAR", data: s.behaviours.map((b) => b.observedBy.join(",")) },
    ],
  };
  const lists: Table = {
    name: "lists", description: "Lists and their consequences", rows: s.lists.length,
    columns: [
      { name: "list", description: "Id", type: "VARCHAR", data: listIds },
      { name: "kind", description: "black or red", type: "VARCHAR", data: s.lists.map((l) => l.kind) },
      { name: "entry", description: "Entry rule", type: "VARCHAR", data: s.lists.map((l) => JSON.stringify(l.entry)) },
      { name: "sanctions", description: "Sanctions", type: "VARCHAR", data: s.lists.map((l) => l.sanctions.join(",")) },
      { name: "privileges", description: "Privileges", type: "VARCHAR", data: s.lists.map((l) => l.privileges.join(",")) },
      { name: "published", description: "Names published", type: "BOOLEAN", data: s.lists.map((l) => l.published) },
      // Only where some list covers named regions (the tables of national lists are as they were).
      ...(s.lists.some((l) => l.regions) ? [
        { name: "regions", description: "Regions whose residents the list covers (comma-separated; empty: the whole country)", type: "VARCHAR", data: s.lists.map((l) => l.regions?.join(",") ?? "") } as Column,
        { name: "family", description: "The listFamilies entry that generated the list (empty: written by hand)", type: "VARCHAR", data: s.lists.map((l) => l.family ?? "") } as Column,
      ] : []),
    ],
  };
  const keys = Object.keys(summary.metrics);
  const summaryTable: Table = {
    name: "summary", description: "Scale-free summary metrics of the run (what targets name)", rows: keys.length,
    columns: [
      { name: "metric", description: "Key", type: "VARCHAR", data: keys },
      num("value", "Value (NULL where undefined: an empty denominator)", keys.map((k) => summary.metrics[k]) as number[]),
      { name: "unit", description: "Unit of the value", type: "VARCHAR", data: keys.map((k) => summarySpec(k)!.unit) },
      { name: "description", description: "What it measures", type: "VARCHAR", data: keys.map((k) => summarySpec(k)!.description) },
    ],
  };
  const T = summary.targets;
  const targets: Table = {
    name: "targets", description: "Each target of the scenario beside the simulated value", rows: T.length,
    columns: [
      { name: "metric", description: "Summary metric", type: "VARCHAR", data: T.map((t) => t.metric) },
      num("target", "Published or assumed value", T.map((t) => t.target)),
      num("tolerance", "Allowed relative deviation", T.map((t) => t.tolerance)),
      num("simulated", "Simulated value", T.map((t) => t.simulated ?? NaN)),
      { name: "pass", description: "Within tolerance", type: "BOOLEAN", data: T.map((t) => t.pass) },
      { name: "source", description: "Source of the target", type: "VARCHAR", data: T.map((t) => t.source ?? "") },
    ],
  };
  return [
    daily,
    dailyTable(sim, "daily_region", "Daily metrics per region", sim.regions, regionOf, (key) => code("region", "Region", regionNames, key)),
    dailyTable(sim, "daily_group", "Daily metrics per population group", G, groupOf, (key) => code("group", "Population group", groupNames, key)),
    cellTable, ...(hasKindSums(s.lists) ? [listDaily(sim, listIds)] : []), listEvents, appeals, firmEvents, distribution, citizens,
    sim.trail.table({ dates: sim.dates, behaviours: s.behaviours.map((b) => b.id), channels: CHANNELS, lists: listIds }),
    regions, behaviours, lists, summaryTable, targets,
  ];
}
