// An ODD protocol (Overview, Design concepts, Details; Grimm et al. 2006, updated 2010 and
// 2020) of the model as this scenario configures it, for a paper's methods section. Each
// section is prose generated from the resolved scenario, so that it describes the run that
// was made and not the model in general.
import type { Manifest } from "../io/run-folder.js";
import type { Scenario } from "../scenario/schema.js";

export interface OddSection {
  id: string;
  title: string;
  /** Paragraphs (plain text; the HTML writer escapes them). */
  paragraphs: string[];
  /** Optional list items under the paragraphs. */
  items?: string[];
}

/** What each phase of the day loop does (src/model/regime.ts lists them in this order). */
export const PHASES: Record<string, string> = {
  watch: "watch: the coverage of every channel in every cell (region x urban/rural x group) for the day; with targeting on, the watch budget is periodically moved between regions",
  behaviour: "behaviour: each citizen does acts at their individual hazard (propensity, age band, income stress, deterrence, chilling, alarm); this is the ground truth",
  observation: "observation: channels turn acts into records: true observations, misattributions to someone else, and invented acts (phantoms, clerical errors, false reports, inattention readings)",
  points: "points: points for observed acts to whoever the system holds responsible, and points that expire; beside them the error-free score, charged to whoever really acted",
  association: "association: a share of each penalty charged to the person's household and friends",
  "behaviour-draw-ahead": "behaviour-draw-ahead: the worker threads start drawing tomorrow's behaviour (no effect on results)",
  decay: "decay: monthly, every score moves a little towards the initial value",
  pull: "pull: periodically, every score moves towards the mean score of the person's remaining friends",
  lists: "lists: entries and exits of blacklists and redlists by score thresholds, listed acts, minimum stays, durations and payments",
  appeals: "appeals: filing, queues with capacity, decisions with a given accuracy, escalation through stages",
  consequences: "consequences: attempts that sanctions block and privileges grant, learning after a block, income effects",
  shaming: "shaming: contacts drop ties with listed people (more when names are published)",
  firms: "firms: scored firms, their grades and blacklist, and sanctions on their legal representatives",
  collect: "collect: daily metrics per cell, score distributions, the trail of sampled citizens",
};

const pct = (x: number) => `${+(x * 100).toFixed(2)}%`;
const list = (xs: string[]) => (xs.length <= 1 ? xs.join("") : `${xs.slice(0, -1).join(", ")} and ${xs[xs.length - 1]}`);

export function oddSections(s: Scenario, m: Pick<Manifest, "population" | "days" | "seed" | "startDate" | "stats">): OddSection[] {
  const on = s.mechanisms;
  const channels = (["cameras", "records", "online", "informants", "attention"] as const).filter((c) => s.observation[c].enabled);
  const blacklists = s.lists.filter((l) => l.kind === "black");
  const redlists = s.lists.filter((l) => l.kind === "red");
  const generated = s.lists.filter((l) => l.family);
  const phaseOrder = Object.keys(m.stats?.phaseSeconds ?? {}).length ? Object.keys(m.stats.phaseSeconds) : Object.keys(PHASES);
  const groups = s.population.groups.map((g) => `${g.id} (${pct(g.share)} of the population, watch x${g.watchMultiplier}, false-match x${g.falseMatchMultiplier})`);
  const punished = s.behaviours.filter((b) => b.points < 0).map((b) => b.id);
  const rewarded = s.behaviours.filter((b) => b.points > 0).map((b) => b.id);
  const switchedOff = Object.entries(on).filter(([, v]) => !v).map(([k]) => k);

  return [
    {
      id: "purpose",
      title: "1. Purpose and patterns",
      paragraphs: [
        `The model asks what a social credit scoring regime does to the people it scores: who is listed, who is listed wrongly, who cannot get off a list, whose purchases are blocked, whose friendships break and whose speech goes quiet. This run applies it to the scenario "${s.title || s.name}" (${s.name}). ${s.description}`.trim(),
        `Every citizen is synthetic. For each one the model keeps the ground truth (what they really did) beside the system's record (what its channels observed), so that each error can be traced. ` +
          (s.targets.length
            ? `The patterns the run is checked against are ${s.targets.length} published figures (the calibration table): ${list(s.targets.map((t) => t.metric))}.`
            : "The scenario names no target figures; its results are exploratory."),
      ],
    },
    {
      id: "entities",
      title: "2. Entities, state variables and scales",
      paragraphs: [
        `Citizens (${m.population.toLocaleString("en-US")} in this run) live in ${s.population.regions.length} region(s), urban or rural, in households of mean size ${s.population.householdMeanSize}, and belong to the majority group` +
          (groups.length ? ` or to one of ${groups.length} named group(s): ${list(groups)}.` : "."),
        `State variables of a citizen: region, urban/rural, group, age band (${list(s.population.ageBands.map((a) => a.id))}), sex, household, daily income (log-normal, median ${s.population.income.median}, sigma ${s.population.income.sigma}), a propensity per behaviour class (log-normal, sigma ${s.population.propensitySigma}), the score (${s.scoring.min} to ${s.scoring.max}, starting at ${s.scoring.initial}), the error-free score, association points, list memberships, sanctions and privileges in force, and the day of the last penalty.`,
        `The social graph links each citizen to a mean of ${s.graph.friendsMean} friends, ${pct(s.graph.longTieShare)} of ties crossing regions, the rest within a neighbourhood of ${s.graph.neighbourhood.toLocaleString("en-US")} citizens.` +
          (on.firms && s.firms.enabled ? ` Firms (${s.firms.perCitizen} per citizen) carry a score from ${s.firms.min} to ${s.firms.max} and a legal representative.` : ""),
        `Time advances in days: ${m.days} days from ${m.startDate}. Space is not explicit beyond regions and the urban/rural split.`,
      ],
    },
    {
      id: "process",
      title: "3. Process overview and scheduling",
      paragraphs: [
        "Each day the phases below run once, in this fixed order, over all citizens; within a phase citizens are processed in id order with random numbers from streams named by phase, day and block of citizens, so the order does not change the draws. Metrics are snapshot at the end of the day.",
      ],
      items: phaseOrder.map((p) => PHASES[p] ?? p),
    },
    {
      id: "design",
      title: "4. Design concepts",
      paragraphs: [],
      items: [
        `Basic principles: a score is a measurement, and its errors are the point. Channels observe acts with coverage and error rates; what is punished is what is recorded, not what was done. Deterrence and chilling follow the perceived watch; secret rules weaken deterrence and broaden chilling.`,
        `Emergence: list sizes, wrongful listings, the share listed through association, blocked purchases, isolation of listed people and chilling are not imposed; they arise from acts, observation errors, thresholds and contacts.`,
        `Adaptation: citizens who know the score exists (${pct(s.scoring.awareness)}) reduce punished acts (deterrence ${on.deterrence ? pct(s.scoring.deterrence) : "off"}) and speech (chilling ${on.chilling ? pct(s.scoring.chilling) : "off"}) under perceived watch, are more careful for ${s.scoring.alarmDays} days after a penalty, and try less often after a blocked attempt.`,
        `Objectives: citizens do not optimise explicitly; the adaptive rules above stand in for avoiding penalties.`,
        `Learning: only the reduced attempt rate after a blocked attempt (people learn they are banned).`,
        `Prediction: none; citizens react to perceived watch, not to forecasts of their score.`,
        `Sensing: under ${s.scoring.secrecy} rules citizens ${s.scoring.secrecy === "secret" ? "cannot tell which acts are punished" : "know which acts are punished"}; they sense their own penalties and blocked attempts.`,
        `Interaction: ${on.association && s.scoring.association.enabled ? `association charges (${pct(s.scoring.association.householdShare)} of a penalty to each household member, ${pct(s.scoring.association.friendShare)} to each friend)` : "no association charges"}; ${channels.includes("informants") ? "informants report their contacts" : "no informants"}; ${on.shaming && s.shaming.enabled ? "contacts drop ties with listed people" : "no shaming"}.`,
        `Stochasticity: acts, observations, errors, list payments, appeals, attempts and dropped ties are random draws from named, seeded streams (seed ${m.seed}); the same scenario and seed give identical results.`,
        `Collectives: households, regions, groups and firms; lists are collectives defined by the regime.`,
        `Observation: daily counts per region x urban/rural x group cell, list entry and exit events, appeals, score distributions and the full trail of a sample of citizens, stored in run.duckdb; the summary gives scale-free rates and shares.`,
      ],
    },
    {
      id: "initialization",
      title: "5. Initialization",
      paragraphs: [
        `${m.population.toLocaleString("en-US")} citizens are generated from seed ${m.seed}: placed in regions by weight (${list(s.population.regions.slice(0, 6).map((r) => `${r.name} ${r.weight}`))}${s.population.regions.length > 6 ? ", ..." : ""}), urban with each region's urban share, assigned groups, age bands, sex (${pct(s.population.femaleShare)} women), households, incomes and propensities. Everyone starts at a score of ${s.scoring.initial}, on no list, with no record. The friendship graph is built before day 0.`,
      ],
    },
    {
      id: "input",
      title: "6. Input data",
      paragraphs: ["None. The population is synthetic; no external data drive the run. Published figures enter only as parameter values (with their sources in the parameter table) and as calibration targets."],
    },
    {
      id: "submodels",
      title: "7. Submodels",
      paragraphs: [],
      items: [
        `Behaviour: ${s.behaviours.length} behaviours; punished: ${list(punished) || "none"}; rewarded: ${list(rewarded) || "none"}. Each has a rate per person-year scaled by propensity, age band, ${on.incomeFeedback ? "income stress (elasticity " + s.scoring.incomeStress + ")" : "no income feedback"}, deterrence and chilling.`,
        `Observation: channels on: ${list(channels)}. ` +
          (s.observation.cameras.enabled ? `Cameras cover ${pct(s.observation.cameras.coverageUrban)} of urban and ${pct(s.observation.cameras.coverageRural)} of rural public acts, match the right face ${pct(s.observation.cameras.trueMatchRate)} of the time and a wrong person ${pct(s.observation.cameras.falseMatchRate)} (x${s.observation.cameras.femaleFalseMatchMultiplier} for women). ` : "") +
          (s.observation.records.enabled ? `Records reach ${pct(s.observation.records.coverage)} of financial and legal events with ${pct(s.observation.records.clericalErrorRate)} filed against the wrong person. ` : "") +
          (s.observation.online.enabled ? `Online monitoring detects ${pct(s.observation.online.coverage)} of posts and flags ${s.observation.online.falsePositivePerYear} innocent posts per person-year. ` : "") +
          (s.observation.informants.enabled ? `${pct(s.observation.informants.share)} of citizens inform (report probability ${pct(s.observation.informants.reportProbability)}, ${s.observation.informants.falseReportsPerYear} false reports a year). ` : "") +
          (s.observation.targeting.enabled ? `Targeting (${s.observation.targeting.mode}) moves ${pct(s.observation.targeting.share)} of the watch budget every ${s.observation.targeting.everyDays} days.` : "No targeting."),
        `Scoring: ${s.scoring.initial} to start, bounded ${s.scoring.min}-${s.scoring.max}; ${s.scoring.expiryDays ? `points expire after ${s.scoring.expiryDays} days` : "points never expire"}; decay ${pct(s.scoring.decayPerYear)} a year; ${s.scoring.grades.length ? `grades ${list(s.scoring.grades.map((g) => `${g.name} (${g.min}+)`))}` : "no grades"}.`,
        `Lists: ${on.lists ? (s.lists.length ? s.lists.filter((l) => !l.family).map((l) => `${l.id} (${l.kind}; entry ${l.entry.scoreBelow !== undefined ? `score below ${l.entry.scoreBelow}` : ""}${l.entry.scoreAtLeast !== undefined ? `score at least ${l.entry.scoreAtLeast}` : ""}${l.entry.acts.length ? `${l.entry.scoreBelow !== undefined ? " or " : ""}observed ${list(l.entry.acts)}` : ""}${l.entry.firms ? `${l.entry.scoreBelow !== undefined || l.entry.acts.length ? " or " : ""}representing a blacklisted firm` : ""}${l.durationDays ? `, ${l.durationDays} days` : ""}${l.minDays ? `, at least ${l.minDays} days` : ""}${l.paymentExit.enabled ? ", leave by paying" : ""}${l.published ? ", published" : ""}${l.sanctions.length ? `; sanctions ${list(l.sanctions)}` : ""}${l.privileges.length ? `; privileges ${list(l.privileges)}` : ""})`).concat(generated.length ? [`${generated.length} lists generated from listFamilies (${list([...new Set(generated.map((l) => l.family!))])}), each covering one region`] : []).join("; ") : "none") : "switched off"}.`,
        `Appeals: ${on.appeals && s.appeals.enabled ? `${pct(s.appeals.fileRateWrongful)} of wrongly and ${pct(s.appeals.fileRate)} of rightly listed people appeal through ${s.appeals.stages.length} stage(s) (${s.appeals.stages.map((st) => `${st.latencyDays} days, ${st.capacityPerMillionPerDay} decisions per million per day, accuracy ${pct(st.accuracy)}`).join("; ")})` : "none"}.`,
        `Consequences: ${on.sanctions ? `${blacklists.length} blacklist(s) block attempts` : "sanctions off"}; ${on.privileges ? `${redlists.length} redlist(s) grant privileges` : "privileges off"}; attempt rates per person-year are in the parameter table.`,
        `Shaming: ${on.shaming && s.shaming.enabled ? `each contact drops a tie with probability ${pct(s.shaming.dropOnPublishedListing)} on a published listing, ${pct(s.shaming.dropOnListing)} on an unpublished one, and ${pct(s.shaming.dropPerYearWhileListed)} a year while listed` : "off"}.`,
        `Firms: ${on.firms && s.firms.enabled ? `${s.firms.behaviours.length} firm behaviours; firms below ${s.firms.blacklistBelow} are blacklisted and their legal representatives go on ${s.lists.some((l) => l.entry.firms) ? list(s.lists.filter((l) => l.entry.firms).map((l) => l.id)) : "no list"}` : "off"}.`,
        `Mechanisms switched off in this run: ${switchedOff.length ? list(switchedOff) : "none"}.`,
      ],
    },
  ];
}
