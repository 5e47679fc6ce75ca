// The daily metrics every list has, declared once: the lists phase writes them, the summary
// and the dashboard read them (this module has no other imports, so the web pages can too).
import type { MetricSet } from "../engine/counters.js";

export const listMetrics = (id: string) => ({
  on: { name: `on_${id}`, unit: "people", description: `People on ${id}`, stock: true },
  wrongful: { name: `wrongful_${id}`, unit: "people", description: "Of them, listed wrongly: not on the list the error-free record keeps under the same rules", stock: true },
  viaAssociation: { name: `via_association_${id}`, unit: "people", description: "Of them, listed only because of association charges", stock: true },
  entries: { name: `entries_${id}`, unit: "listings", description: `Entries to ${id}` },
  exits: { name: `exits_${id}`, unit: "listings", description: `Exits from ${id}` },
  exitsPaid: { name: `exits_paid_${id}`, unit: "listings", description: `Of them, people who paid what they owed and left` },
  clearedWrongful: { name: `cleared_wrongful_${id}`, unit: "listings", description: `Listings on ${id} that ended while wrongful` },
  daysToClearWrongful: { name: `days_to_clear_wrongful_${id}`, unit: "days", description: "Days those listings lasted (sum)" },
  errorFreeOn: { name: `error_free_on_${id}`, unit: "people", description: `People the error-free record has on ${id}`, stock: true },
}) satisfies MetricSet;
