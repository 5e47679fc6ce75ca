// The daily metrics every list has, declared once: the lists phase writes them, the summary
// and the dashboard read them (this module has no other imports, so the web pages can too).
// Each list has them per day in the long table list_daily (one row per day and list); a reported
// list (lists[].reported) has them per cell as columns of the daily tables too, and when some
// list is not reported, the daily tables carry their sums over all blacklists and all redlists.
import type { MetricSet } from "../engine/counters.js";

/** The metrics of one list (`of` names it in the descriptions), their names ending in `suffix`. */
const perList = (of: string, suffix: string) => ({
  on: { name: `on${suffix}`, unit: "people", description: `People on ${of}`, stock: true },
  wrongful: { name: `wrongful${suffix}`, unit: "people", description: "Of them, listed wrongly: not on the list the error-free record keeps under the same rules", stock: true },
  viaAssociation: { name: `via_association${suffix}`, unit: "people", description: "Of them, listed only because of association charges", stock: true },
  entries: { name: `entries${suffix}`, unit: "listings", description: `Entries to ${of}` },
  exits: { name: `exits${suffix}`, unit: "listings", description: `Exits from ${of}` },
  exitsPaid: { name: `exits_paid${suffix}`, unit: "listings", description: `Of them, people who paid what they owed and left` },
  clearedWrongful: { name: `cleared_wrongful${suffix}`, unit: "listings", description: `Listings on ${of} that ended while wrongful` },
  daysToClearWrongful: { name: `days_to_clear_wrongful${suffix}`, unit: "days", description: "Days those listings lasted (sum)" },
  errorFreeOn: { name: `error_free_on${suffix}`, unit: "people", description: `People the error-free record has on ${of}`, stock: true },
}) satisfies MetricSet;

export type ListMetricSet = ReturnType<typeof perList>;

export const listMetrics = (id: string): ListMetricSet => perList(id, `_${id}`);

/** The columns of list_daily (the list is the row's key). */
export const LIST_DAILY_METRICS = perList("the list", "");

/** Sums over every list of a kind, in listings: a person on two blacklists counts twice. */
export const listKindMetrics = (kind: "black" | "red"): ListMetricSet => perList(`${kind}lists, summed over the lists (a person on two counts twice)`, `_all_${kind}lists`);

/** The list ids whose metric names would be those of the sums over a kind. */
export const KIND_SUM_IDS = ["all-blacklists", "all-redlists"];

/** A list has columns of its own in the daily tables unless it says otherwise (lists[].reported). */
export const isReported = (l: { reported?: boolean }): boolean => l.reported !== false;

/** The daily tables carry the sums over each kind when some list has no columns of its own. */
export const hasKindSums = (lists: readonly { reported?: boolean }[]): boolean => lists.some((l) => !isReported(l));

/** A list as the charts see it: a list with columns of its own, or the sum over a kind (`sum`). */
export interface ChartedList {
  id: string;
  kind: "black" | "red";
  sum: boolean;
}

/**
 * The lists the dashboard and the report chart from the daily tables: the reported lists, then,
 * when some list is not reported, the sums over each kind, as `all-blacklists` and `all-redlists`
 * (listMetrics of those ids names the sums' columns).
 */
export function chartedLists(lists: readonly { id: string; kind: "black" | "red"; reported?: boolean }[]): ChartedList[] {
  const own = lists.filter(isReported).map((l) => ({ id: l.id, kind: l.kind, sum: false }));
  if (!hasKindSums(lists)) return own;
  return [...own, { id: KIND_SUM_IDS[0], kind: "black", sum: true }, { id: KIND_SUM_IDS[1], kind: "red", sum: true }];
}

/** The charted lists whose values add up to everyone's listings of a kind: its sum if there is one, else every list of it. */
export const totalOfKind = (charted: ChartedList[], kind: "black" | "red"): ChartedList[] => {
  const of = charted.filter((l) => l.kind === kind);
  return of.some((l) => l.sum) ? of.filter((l) => l.sum) : of;
};
