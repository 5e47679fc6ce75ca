// The run summary: headline counts for people, and flat scale-free metrics (shares and
// per-capita yearly rates) that targets name and that stay comparable across population sizes.
import { SANCTIONS, PRIVILEGES, type Scenario } from "../scenario/schema.js";
import type { Summary, TargetResult } from "../model/result.js";
import type { DailyCounters } from "../engine/counters.js";

export interface SummaryInput {
  s: Scenario;
  seed: number;
  metrics: DailyCounters;
  lists: { id: string; kind: "black" | "red"; entries: number; everListed: number; exits: number }[];
  appealsQueued: number;
  finalScores: Float32Array;
  firmScores: Float32Array;
  firmGrade: (score: number) => number;
  dates: string[];
}

const gradeIndex = (grades: { min: number }[], v: number) => {
  let best = -1;
  grades.forEach((g, k) => {
    if (v >= g.min && (best < 0 || g.min > grades[best].min)) best = k;
  });
  return best;
};

/** Every metric key a summary of this scenario carries: what a target may name. */
export function metricKeys(scenario: Scenario): string[] {
  const perList = [
    "listed_share", "error_free_listed_share", "wrongful_share", "association_listed_share", "entries_per_capita",
    "cumulative_listed_share", "exited_share", "mean_days_to_clear_wrongful",
  ];
  return [
    ...scenario.lists.flatMap((l) => perList.map((p) => `${p}.${l.id}`)),
    ...SANCTIONS.map((k) => `blocked_per_capita.${k}`),
    ...PRIVILEGES.map((k) => `granted_per_capita.${k}`),
    ...scenario.scoring.grades.map((g) => `grade_share.${g.name}`),
    ...(scenario.firms.enabled ? scenario.firms.grades.map((g) => `firm_grade_share.${g.name}`) : []),
    "blacklisted_share", "redlisted_share", "wrongful_listings_per_capita", "mean_score", "chilling",
    "association_penalty_share", "ties_dropped_per_capita", "isolation_of_listed", "misattributed_share", "invented_share",
    "informant_rewards_per_capita", "false_reports_per_capita", "appeals_filed_per_capita", "appeal_success_rate",
    "income_ratio_blacklisted", "income_ratio_redlisted", "acts_per_capita", "observations_per_capita",
  ];
}

/**
 * Metrics that are ratios over something that may be empty (the people on a list, the appeals
 * decided, the firms scored...): null in a run where it is. Every other metric is always a number.
 */
const UNDEFINED_WHEN_EMPTY = new Set([
  "wrongful_share", "association_listed_share", "exited_share", "mean_days_to_clear_wrongful", "firm_grade_share",
  "chilling", "association_penalty_share", "isolation_of_listed", "misattributed_share", "invented_share",
  "appeal_success_rate", "income_ratio_blacklisted", "income_ratio_redlisted",
]);
export const mayBeUndefined = (key: string): boolean => UNDEFINED_WHEN_EMPTY.has(key.split(".")[0]);

export function summarise(x: SummaryInput): Summary {
  const { s: scenario, metrics } = x;
  const n = scenario.population.size;
  const last = scenario.days - 1;
  const years = scenario.days / 365;
  const idx = (name: string) => metrics.find(name);
  const total = (name: string) => { const k = idx(name); return k === undefined ? 0 : metrics.grandTotal(k); };
  const end = (name: string) => { const k = idx(name); return k === undefined ? 0 : metrics.total(last, k); };
  // Undefined where the denominator is empty (nobody listed, no appeal decided): null, never 0.
  const ratio = (a: number, b: number): number | null => (b > 0 ? a / b : null);

  const lists = x.lists.map((l) => ({
    id: l.id, kind: l.kind,
    onListEnd: end(`on_${l.id}`), wrongfulEnd: end(`wrongful_${l.id}`), viaAssociationEnd: end(`via_association_${l.id}`),
    errorFreeEnd: end(`error_free_on_${l.id}`), entries: l.entries, everListed: l.everListed, exits: l.exits,
  }));
  const blocked = Object.fromEntries(SANCTIONS.map((k) => [k, total(`blocked_${k}`)]));
  const granted = Object.fromEntries(PRIVILEGES.map((k) => [k, total(`granted_${k}`)]));
  const obs = { true: total("observations_true"), misattributed: total("observations_misattributed"), invented: total("observations_invented") };
  const penalty = total("penalty_points"), assocPoints = total("association_points");
  const tiesAlive = end("blacklisted_ties_alive"), ties0 = end("blacklisted_ties_initial");
  const incomeAll = end("income_sum");
  const blackN = end("blacklisted"), redN = end("redlisted");
  const meanIncome = {
    blacklisted: ratio(end("blacklisted_income_sum"), blackN),
    unlisted: ratio(incomeAll - end("blacklisted_income_sum") - end("redlisted_income_sum"), n - blackN - redN),
    redlisted: ratio(end("redlisted_income_sum"), redN),
  };

  const m: Record<string, number | null> = {};
  for (const l of lists) {
    m[`listed_share.${l.id}`] = l.onListEnd / n;
    m[`error_free_listed_share.${l.id}`] = l.errorFreeEnd / n;
    m[`wrongful_share.${l.id}`] = ratio(l.wrongfulEnd, l.onListEnd);
    m[`association_listed_share.${l.id}`] = ratio(l.viaAssociationEnd, l.onListEnd);
    m[`entries_per_capita.${l.id}`] = l.entries / n / years;
    m[`cumulative_listed_share.${l.id}`] = l.everListed / n;
    // People, not listings: of everyone ever on the list, the share no longer on it at the end.
    m[`exited_share.${l.id}`] = ratio(l.everListed - l.onListEnd, l.everListed);
    m[`mean_days_to_clear_wrongful.${l.id}`] = ratio(total(`days_to_clear_wrongful_${l.id}`), total(`cleared_wrongful_${l.id}`));
  }
  for (const k of SANCTIONS) m[`blocked_per_capita.${k}`] = blocked[k] / n / years;
  for (const k of PRIVILEGES) m[`granted_per_capita.${k}`] = granted[k] / n / years;
  const grades = scenario.scoring.grades;
  if (grades.length) {
    const counts = new Float64Array(grades.length);
    for (const v of x.finalScores) { const k = gradeIndex(grades, v); if (k >= 0) counts[k]++; }
    grades.forEach((g, k) => (m[`grade_share.${g.name}`] = counts[k] / n));
  }
  if (scenario.firms.enabled && x.firmScores.length) {
    const counts = new Float64Array(scenario.firms.grades.length);
    const sorted = [...scenario.firms.grades].sort((a, b) => b.min - a.min);
    for (const v of x.firmScores) counts[x.firmGrade(v)]++;
    sorted.forEach((g, k) => (m[`firm_grade_share.${g.name}`] = counts[k] / x.firmScores.length));
  }
  const speech = total("speech_acts"), baseline = total("speech_baseline");
  const chilling = baseline > 0 ? 1 - speech / baseline : null;
  const allObs = obs.true + obs.misattributed + obs.invented;
  Object.assign(m, {
    blacklisted_share: blackN / n,
    redlisted_share: redN / n,
    wrongful_listings_per_capita: lists.reduce((a, l) => a + (l.kind === "black" ? l.wrongfulEnd : 0), 0) / n,
    mean_score: end("score_sum") / n,
    chilling,
    association_penalty_share: ratio(assocPoints, penalty + assocPoints),
    ties_dropped_per_capita: total("ties_dropped") / n / years,
    isolation_of_listed: ties0 > 0 ? 1 - tiesAlive / ties0 : null,
    misattributed_share: ratio(obs.misattributed, allObs),
    invented_share: ratio(obs.invented, allObs),
    informant_rewards_per_capita: total("informant_rewards") / n / years,
    false_reports_per_capita: total("false_reports") / n / years,
    appeals_filed_per_capita: total("appeals_filed") / n / years,
    appeal_success_rate: ratio(total("appeals_won"), total("appeals_decided")),
    income_ratio_blacklisted: meanIncome.blacklisted === null ? null : ratio(meanIncome.blacklisted, meanIncome.unlisted ?? 0),
    income_ratio_redlisted: meanIncome.redlisted === null ? null : ratio(meanIncome.redlisted, meanIncome.unlisted ?? 0),
    acts_per_capita: total("acts") / n / years,
    observations_per_capita: allObs / n / years,
  });

  const targets: TargetResult[] = scenario.targets.map((t) => {
    const v = m[t.metric];
    const simulated = v === undefined ? null : v;
    const pass = simulated !== null && Math.abs(simulated - t.value) <= t.tolerance * Math.abs(t.value);
    return { metric: t.metric, target: t.value, tolerance: t.tolerance, simulated, pass, ...(t.source ? { source: t.source } : {}) };
  });

  return {
    scenario: scenario.name, population: n, days: scenario.days, seed: x.seed,
    startDate: x.dates[0], endDate: x.dates[last],
    lists, blocked, granted,
    appeals: {
      filed: total("appeals_filed"), decided: total("appeals_decided"), won: total("appeals_won"),
      wonWrongful: total("appeals_won_wrongful"), queuedEnd: x.appealsQueued,
    },
    association: { charges: total("association_charges"), points: assocPoints, shareOfPenaltyPoints: m.association_penalty_share ?? null },
    chilling,
    tiesDropped: total("ties_dropped"),
    isolationOfListed: m.isolation_of_listed ?? null,
    acts: total("acts"),
    observations: obs,
    informants: { rewardsPaid: total("informant_rewards"), falseReports: total("false_reports") },
    meanIncome,
    metrics: m,
    targets,
  };
}
