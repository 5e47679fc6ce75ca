// The run summary: headline counts for people, and flat scale-free metrics (shares and
// per-capita yearly rates) that targets name and that stay comparable across population sizes.
import { SANCTIONS, PRIVILEGES, type Scenario } from "../scenario/schema.js";
import type { Summary, TargetResult } from "../model/result.js";
import type { DailyCounters, MetricSpec } from "../engine/counters.js";
import { LIST_DAILY_METRICS } from "./list-metrics.js";
import { dayOf, firstReportedDay } from "../scenario/timeline.js";
import { LISTED_METRICS } from "./collect.js";
import { BEHAVIOUR_METRICS } from "../model/behaviour.js";
import { OBSERVATION_METRICS } from "../model/observation.js";
import { POINTS_METRICS } from "../model/points.js";
import { ASSOCIATION_METRICS } from "../model/association.js";
import { APPEALS_METRICS } from "../model/appeals.js";
import { CONSEQUENCES_METRICS, SANCTION_EFFECT_METRICS } from "../model/consequences.js";
import { SHAMING_METRICS } from "../model/shaming.js";
import { INFORMANT_METRICS } from "../model/informants.js";
import { VISIBILITY_METRICS } from "../model/visibility.js";

export interface SummaryInput {
  s: Scenario;
  seed: number;
  metrics: DailyCounters;
  /** Each list's daily metrics, one "cell" per list, in scenario order (model/lists.ts). */
  listDaily: DailyCounters;
  /** People ever on each list during the reported days (the counts of listings come from the daily metrics). */
  lists: { id: string; kind: "black" | "red"; everListed: number }[];
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

/** A summary metric's declaration. `per`: one key per list, sanction, privilege, grade or firm grade (`<key>.<id>`). */
interface SummarySpec {
  unit: string;
  description: string;
  per?: "list" | "sanction" | "privilege" | "grade" | "firm grade";
  /** A ratio over something that may be empty (the people on a list, the appeals decided...): null in a run where it is. */
  undefinedWhenEmpty?: true;
}

const YEARLY = "per person per year";

/** The summary's metrics, declared once: what targets may name, in the order the summary lists them. */
export const SUMMARY_METRICS = {
  listed_share: { per: "list", unit: "share of population", description: "People on the list at the end" },
  error_free_listed_share: { per: "list", unit: "share of population", description: "People the error-free record has on the list at the end" },
  wrongful_share: { per: "list", unit: "share of the listed", description: "Of the people on the list at the end, those listed wrongly", undefinedWhenEmpty: true },
  association_listed_share: { per: "list", unit: "share of the listed", description: "Of the people on the list at the end, those listed only because of association charges", undefinedWhenEmpty: true },
  entries_per_capita: { per: "list", unit: `listings ${YEARLY}`, description: "Listings made (a person listed twice counts twice)" },
  cumulative_listed_share: { per: "list", unit: "share of population", description: "Distinct people ever on the list during the run" },
  exited_share: { per: "list", unit: "share of the ever listed", description: "Of everyone ever on the list, the share no longer on it at the end", undefinedWhenEmpty: true },
  mean_days_to_clear_wrongful: { per: "list", unit: "days", description: "Mean length of the wrongful listings that ended", undefinedWhenEmpty: true },
  blocked_per_capita: { per: "sanction", unit: `attempts ${YEARLY}`, description: "Attempts blocked by the sanction" },
  granted_per_capita: { per: "privilege", unit: `uses ${YEARLY}`, description: "Uses of the privilege" },
  grade_share: { per: "grade", unit: "share of population", description: "People in the score grade at the end" },
  firm_grade_share: { per: "firm grade", unit: "share of firms", description: "Firms in the grade at the end", undefinedWhenEmpty: true },
  blacklisted_share: { unit: "share of population", description: "People on at least one blacklist at the end" },
  redlisted_share: { unit: "share of population", description: "People on at least one redlist at the end" },
  wrongful_listings_per_capita: { unit: "listings per person", description: "Wrongful blacklistings at the end, summed over blacklists" },
  mean_score: { unit: "points", description: "Mean score at the end" },
  chilling: { unit: "share of speech", description: "1 - (speech acts + those bans silenced) / speech expected with nobody watching: what the watch stops", undefinedWhenEmpty: true },
  silenced: { unit: "share of speech", description: "Speech acts bans stopped (sanctions' effects.silence) / speech expected with nobody watching", undefinedWhenEmpty: true },
  trips_prevented_per_capita: { unit: `attempts ${YEARLY}`, description: "Travel attempts not made because a sanction confines the person" },
  association_penalty_share: { unit: "share of penalty points", description: "Penalty points charged through association", undefinedWhenEmpty: true },
  ties_dropped_per_capita: { unit: `friendships ${YEARLY}`, description: "Friendships dropped because of a listing" },
  isolation_of_listed: { unit: "share of their ties", description: "Friendships the blacklisted lost since the start", undefinedWhenEmpty: true },
  isolation_of_low_scored: { unit: "share of their ties", description: "Friendships those with a low score at the end (visibility on) lost since the start", undefinedWhenEmpty: true },
  isolation_of_others: { unit: "share of their ties", description: "Friendships everyone else (visibility on) lost since the start", undefinedWhenEmpty: true },
  misattributed_share: { unit: "share of observations", description: "Observations charged to someone other than the actor", undefinedWhenEmpty: true },
  invented_share: { unit: "share of observations", description: "Observations of acts that never happened", undefinedWhenEmpty: true },
  informant_rewards_per_capita: { unit: `reward units ${YEARLY}`, description: "Rewards paid to informants" },
  false_reports_per_capita: { unit: `reports ${YEARLY}`, description: "False reports filed by informants" },
  true_reports_per_informant: { unit: "reports per informant per year", description: "True reports each informant filed", undefinedWhenEmpty: true },
  false_reports_per_informant: { unit: "reports per informant per year", description: "False reports each informant filed", undefinedWhenEmpty: true },
  paid_reports_per_informant: { unit: "reports per informant per year", description: "Reports (true and false) each informant was paid a reward for", undefinedWhenEmpty: true },
  appeals_filed_per_capita: { unit: `appeals ${YEARLY}`, description: "Appeals filed" },
  appeal_success_rate: { unit: "share of decisions", description: "Appeals won, of those decided", undefinedWhenEmpty: true },
  income_ratio_blacklisted: { unit: "ratio", description: "Mean income of the blacklisted over that of the unlisted", undefinedWhenEmpty: true },
  income_ratio_redlisted: { unit: "ratio", description: "Mean income of the redlisted over that of the unlisted", undefinedWhenEmpty: true },
  acts_per_capita: { unit: `acts ${YEARLY}`, description: "Acts really done (ground truth)" },
  observations_per_capita: { unit: `observations ${YEARLY}`, description: "Observations of every kind" },
} satisfies Record<string, SummarySpec>;

export type SummaryKey = keyof typeof SUMMARY_METRICS;

const specOf = (key: string): SummarySpec | undefined => (SUMMARY_METRICS as Record<string, SummarySpec>)[key.split(".")[0]];

/** The ids a family of summary metrics has in a scenario. */
function idsOf(scenario: Scenario, per: NonNullable<SummarySpec["per"]>): readonly string[] {
  switch (per) {
    case "list": return scenario.lists.map((l) => l.id);
    case "sanction": return SANCTIONS;
    case "privilege": return PRIVILEGES;
    case "grade": return scenario.scoring.grades.map((g) => g.name);
    case "firm grade": return scenario.firms.enabled ? scenario.firms.grades.map((g) => g.name) : [];
  }
}

/**
 * The key of a target's value in a summary: its metric, or for a dated target the daily metric
 * with its date (`entries_court@2018-12-31`, or `blocked_flights@2018-01-01..2018-12-31` for a period).
 */
export const targetKey = (t: Scenario["targets"][number]): string =>
  t.at === undefined ? t.metric : `${t.metric}@${t.from !== undefined ? `${t.from}..` : ""}${t.at}`;

/** Every metric key a summary of this scenario carries: what a target may name, and the dated targets' values. */
export function metricKeys(scenario: Scenario): string[] {
  const keys = Object.entries(SUMMARY_METRICS as Record<string, SummarySpec>).flatMap(([key, spec]) => (spec.per ? idsOf(scenario, spec.per).map((id) => `${key}.${id}`) : [key]));
  return [...keys, ...[...scenario.targets, ...scenario.checks].filter((t) => t.at !== undefined).map(targetKey)];
}

/** A metric that is null in a run where its denominator is empty; every other metric is always a number. */
export const mayBeUndefined = (key: string): boolean => specOf(key)?.undefinedWhenEmpty === true;

/** The unit and description of a summary key (`listed_share.low-score`), for tables and documents. */
export function summarySpec(key: string): { unit: string; description: string } | undefined {
  const dated = /^([^@]+)@(?:(.+)\.\.)?(.+)$/.exec(key);
  if (!dated) return specOf(key);
  const [, metric, from, at] = dated;
  return { unit: "per person", description: `A dated target's value: ${metric} per person, ${from ? `summed from ${from} to ${at}` : `at the end of ${at} (a flow: summed since the run began)`}` };
}

export function summarise(x: SummaryInput): Summary {
  const { s: scenario, metrics } = x;
  const n = scenario.population.size;
  const last = scenario.days - 1;
  // Counts and rates cover the reported days: the warm-up before reportFrom is left out.
  const first = firstReportedDay(scenario);
  const years = (scenario.days - first) / 365;
  // Through the declarations: a metric nobody declared is an error here, never a 0.
  const at = (spec: MetricSpec) => metrics.indexOf({ m: spec }).m;
  /** Metric k summed over the cells and over days [from, to]. */
  const sumOver = (k: number, from: number, to: number) => {
    let v = 0;
    for (let d = from; d <= to; d++) v += metrics.total(d, k);
    return v;
  };
  const total = (spec: MetricSpec) => sumOver(at(spec), first, last);
  const end = (spec: MetricSpec) => metrics.total(last, at(spec));
  const B = BEHAVIOUR_METRICS, O = OBSERVATION_METRICS, P = POINTS_METRICS, A = ASSOCIATION_METRICS, L = LISTED_METRICS, AP = APPEALS_METRICS, C = CONSEQUENCES_METRICS, I = INFORMANT_METRICS, V = VISIBILITY_METRICS;
  // Undefined where the denominator is empty (nobody listed, no appeal decided): null, never 0.
  const ratio = (a: number, b: number): number | null => (b > 0 ? a / b : null);

  // Every list's figures from list_daily (a reported list's per-cell columns sum to the same counts).
  const D = x.listDaily.indexOf(LIST_DAILY_METRICS);
  const listEnd = (k: number, metric: number) => x.listDaily.get(last, k, metric);
  const listTotal = (k: number, metric: number) => {
    let v = 0;
    for (let d = first; d <= last; d++) v += x.listDaily.get(d, k, metric);
    return v;
  };
  const lists = x.lists.map((l, k) => ({
    id: l.id, kind: l.kind,
    onListEnd: listEnd(k, D.on), wrongfulEnd: listEnd(k, D.wrongful), viaAssociationEnd: listEnd(k, D.viaAssociation),
    errorFreeEnd: listEnd(k, D.errorFreeOn), entries: listTotal(k, D.entries), everListed: l.everListed, exits: listTotal(k, D.exits),
  }));
  const blocked = Object.fromEntries(SANCTIONS.map((k) => [k, total(C[`blocked_${k}`])]));
  const granted = Object.fromEntries(PRIVILEGES.map((k) => [k, total(C[`granted_${k}`])]));
  const obs = { true: total(O.observationsTrue), misattributed: total(O.observationsMisattributed), invented: total(O.observationsInvented) };
  const penalty = total(P.penaltyPoints), assocPoints = total(A.points);
  const tiesAlive = end(L.blacklistedTiesAlive), ties0 = end(L.blacklistedTiesInitial);
  const incomeAll = end(C.income_sum);
  const blackN = end(L.blacklisted), redN = end(L.redlisted);
  const meanIncome = {
    blacklisted: ratio(end(L.blacklistedIncomeSum), blackN),
    unlisted: ratio(incomeAll - end(L.blacklistedIncomeSum) - end(L.redlistedIncomeSum), n - blackN - redN),
    redlisted: ratio(end(L.redlistedIncomeSum), redN),
  };

  const m: Record<string, number | null> = {};
  const key = (k: SummaryKey, id: string) => `${k}.${id}`;
  lists.forEach((l, k) => {
    m[key("listed_share", l.id)] = l.onListEnd / n;
    m[key("error_free_listed_share", l.id)] = l.errorFreeEnd / n;
    m[key("wrongful_share", l.id)] = ratio(l.wrongfulEnd, l.onListEnd);
    m[key("association_listed_share", l.id)] = ratio(l.viaAssociationEnd, l.onListEnd);
    m[key("entries_per_capita", l.id)] = l.entries / n / years;
    m[key("cumulative_listed_share", l.id)] = l.everListed / n;
    // People, not listings: of everyone ever on the list, the share no longer on it at the end.
    m[key("exited_share", l.id)] = ratio(l.everListed - l.onListEnd, l.everListed);
    m[key("mean_days_to_clear_wrongful", l.id)] = ratio(listTotal(k, D.daysToClearWrongful), listTotal(k, D.clearedWrongful));
  });
  for (const k of SANCTIONS) m[key("blocked_per_capita", k)] = blocked[k] / n / years;
  for (const k of PRIVILEGES) m[key("granted_per_capita", k)] = granted[k] / n / years;
  const grades = scenario.scoring.grades;
  if (grades.length) {
    const counts = new Float64Array(grades.length);
    for (const v of x.finalScores) { const k = gradeIndex(grades, v); if (k >= 0) counts[k]++; }
    grades.forEach((g, k) => (m[key("grade_share", g.name)] = counts[k] / n));
  }
  if (scenario.firms.enabled && x.firmScores.length) {
    const counts = new Float64Array(scenario.firms.grades.length);
    const sorted = [...scenario.firms.grades].sort((a, b) => b.min - a.min);
    for (const v of x.firmScores) counts[x.firmGrade(v)]++;
    sorted.forEach((g, k) => (m[key("firm_grade_share", g.name)] = counts[k] / x.firmScores.length));
  }
  const speech = total(B.speechActs), baseline = total(B.speechBaseline), silenced = total(SANCTION_EFFECT_METRICS.speechSilenced);
  const chilling = baseline > 0 ? 1 - (speech + silenced) / baseline : null;
  const allObs = obs.true + obs.misattributed + obs.invented;
  const scalars: Partial<Record<SummaryKey, number | null>> = {
    blacklisted_share: blackN / n,
    redlisted_share: redN / n,
    wrongful_listings_per_capita: lists.reduce((a, l) => a + (l.kind === "black" ? l.wrongfulEnd : 0), 0) / n,
    mean_score: end(P.scoreSum) / n,
    chilling,
    silenced: ratio(silenced, baseline),
    trips_prevented_per_capita: total(SANCTION_EFFECT_METRICS.tripsPrevented) / n / years,
    association_penalty_share: ratio(assocPoints, penalty + assocPoints),
    ties_dropped_per_capita: total(SHAMING_METRICS.tiesDropped) / n / years,
    isolation_of_listed: ties0 > 0 ? 1 - tiesAlive / ties0 : null,
    isolation_of_low_scored: ratio(end(V.lowTiesInitial) - end(V.lowTiesAlive), end(V.lowTiesInitial)),
    isolation_of_others: ratio(end(V.otherTiesInitial) - end(V.otherTiesAlive), end(V.otherTiesInitial)),
    misattributed_share: ratio(obs.misattributed, allObs),
    invented_share: ratio(obs.invented, allObs),
    informant_rewards_per_capita: total(O.informantRewards) / n / years,
    false_reports_per_capita: total(O.falseReports) / n / years,
    true_reports_per_informant: ratio(total(I.reportsTrue) / years, end(I.informants)),
    false_reports_per_informant: ratio(total(O.falseReports) / years, end(I.informants)),
    paid_reports_per_informant: ratio(total(I.reportsPaid) / years, end(I.informants)),
    appeals_filed_per_capita: total(AP.filed) / n / years,
    appeal_success_rate: ratio(total(AP.won), total(AP.decided)),
    income_ratio_blacklisted: meanIncome.blacklisted === null ? null : ratio(meanIncome.blacklisted, meanIncome.unlisted ?? 0),
    income_ratio_redlisted: meanIncome.redlisted === null ? null : ratio(meanIncome.redlisted, meanIncome.unlisted ?? 0),
    acts_per_capita: total(B.acts) / n / years,
    observations_per_capita: allObs / n / years,
  };
  Object.assign(m, scalars);

  // Dated targets: a daily metric per person, a stock at the end of `at` or a flow summed from `from` (the first day) to `at`.
  for (const t of [...scenario.targets, ...scenario.checks]) {
    if (t.at === undefined) continue;
    const k = metrics.names.indexOf(t.metric);
    if (k < 0) throw new Error(`target ${targetKey(t)}: ${t.metric} is not a daily metric of this run`);
    const to = dayOf(scenario.startDate, t.at), from = t.from === undefined ? 0 : dayOf(scenario.startDate, t.from);
    m[targetKey(t)] = (metrics.specs[k].stock ? metrics.total(to, k) : sumOver(k, from, to)) / n;
  }

  const judge = (t: Scenario["targets"][number]): TargetResult => {
    const v = m[targetKey(t)];
    const simulated = v === undefined ? null : v;
    const pass = simulated !== null && Math.abs(simulated - t.value) <= t.tolerance * Math.abs(t.value);
    return { metric: targetKey(t), target: t.value, tolerance: t.tolerance, simulated, pass, ...(t.source ? { source: t.source } : {}) };
  };
  const targets = scenario.targets.map(judge);
  const checks = scenario.checks.map(judge);

  return {
    scenario: scenario.name, population: n, days: scenario.days, seed: x.seed,
    startDate: x.dates[first], endDate: x.dates[last],
    lists, blocked, granted,
    appeals: {
      filed: total(AP.filed), decided: total(AP.decided), won: total(AP.won),
      wonWrongful: total(AP.wonWrongful), queuedEnd: x.appealsQueued,
    },
    association: { charges: total(A.charges), points: assocPoints, shareOfPenaltyPoints: m.association_penalty_share ?? null },
    chilling,
    tiesDropped: total(SHAMING_METRICS.tiesDropped),
    isolationOfListed: m.isolation_of_listed ?? null,
    acts: total(B.acts),
    observations: obs,
    informants: { rewardsPaid: total(O.informantRewards), falseReports: total(O.falseReports) },
    meanIncome,
    metrics: m,
    targets,
    checks,
  };
}
