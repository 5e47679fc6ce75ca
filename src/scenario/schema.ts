// The scenario schema: the single source of truth for validation, defaults and the field
// reference in docs/scenario-reference.md (generated from this file by `credence schema`).
// Every object is strict: an unknown key is an error, never silently ignored.
import { z } from "zod";

const rate = (what: string) => z.number().min(0).max(1).describe(what);
const perYear = (what: string) => z.number().min(0).max(10_000).describe(`${what}, per person-year`);
const id = z.string().regex(/^[a-z][a-z0-9-]*$/, "a lower-case id such as `late-payment`");

export const BEHAVIOUR_CLASSES = ["public", "financial", "misconduct", "speech", "civic"] as const;
export const CHANNELS = ["cameras", "records", "online", "informants", "attention"] as const;
export const SANCTIONS = [
  "flights", "trains", "hotels", "property", "private-schools", "jobs", "loans",
  "social-media", "internet", "deposits",
] as const;
export const PRIVILEGES = [
  "deposit-waiver", "vip-airport", "loan-discount", "energy-discount", "job-priority",
  "fast-visa", "dating-visibility", "transit-discount", "rental-waiver", "course-discount",
] as const;

const Region = z.strictObject({
  name: z.string().min(1).describe("Region name (a province, or a district of a city)"),
  weight: z.number().positive().describe("Relative population weight"),
  urbanShare: rate("Share of the region's people living in cities").default(0.6),
});

const Group = z.strictObject({
  id,
  share: rate("Share of the population in this group (the rest are in the majority group)"),
  shareByRegion: z.record(z.string(), rate("share in that region")).optional()
    .describe("Overrides of the share for named regions (groups concentrated in some provinces)"),
  watchMultiplier: z.number().min(0).max(100).default(1)
    .describe("Multiplier on camera and online coverage for members (closer watching)"),
  falseMatchMultiplier: z.number().min(0).max(1000).default(1)
    .describe("Multiplier on the face-recognition false-match rate when a member is the wrongly matched person (NIST FRVT: 10-100x for some groups)"),
  rates: z.record(id, z.number().min(0).max(1000)).default({})
    .describe("Multiplier on members' true rate of named behaviours, by behaviour id (`unregistered-worship: 20`: a religious minority worships in unregistered congregations twenty times as often)"),
  classRates: z.partialRecord(z.enum(BEHAVIOUR_CLASSES), z.number().min(0).max(1000)).default({})
    .describe("Multiplier on members' true rate of every behaviour of a class (multiplies with `rates`)"),
});

const AgeBand = z.strictObject({
  id: z.string().min(1),
  share: rate("Share of the population in this band"),
  activity: z.partialRecord(z.enum(BEHAVIOUR_CLASSES), z.number().min(0).max(100)).default({})
    .describe("Multiplier on each behaviour class for this band (e.g. 0 financial for minors)"),
});

const Population = z.strictObject({
  size: z.number().int().min(1).max(2_000_000_000).default(100_000)
    .describe("Number of synthetic citizens (the CLI's --population overrides it)"),
  regions: z.array(Region).min(1).max(256).describe("Regions; citizens are placed by weight"),
  groups: z.array(Group).max(15).default([]).describe("Named population groups that can be watched more closely"),
  ageBands: z.array(AgeBand).min(1).max(16).default([
    { id: "under-18", share: 0.2, activity: { financial: 0, misconduct: 0.3, speech: 0.3, civic: 0.5 } },
    { id: "18-45", share: 0.33, activity: {} },
    { id: "46-64", share: 0.3, activity: {} },
    { id: "65+", share: 0.17, activity: { public: 0.5, financial: 0.6, misconduct: 0.5, speech: 0.6 } },
  ]).describe("Age bands with activity multipliers; 18-45 is 460 M of 1.4 B (youth scoring app reports)"),
  femaleShare: rate("Share of women (face recognition errs 2-5x more often for women)").default(0.49),
  householdMeanSize: z.number().min(1).max(20).default(3).describe("Mean household size"),
  income: z.strictObject({
    median: z.number().positive().default(100).describe("Median daily income (arbitrary currency units)"),
    sigma: z.number().min(0).max(3).default(0.6).describe("Log-normal spread of income"),
    urbanPremium: z.number().min(0).max(10).default(1.5).describe("Urban income multiplier"),
  }).prefault({}),
  propensitySigma: z.number().min(0).max(3).default(1)
    .describe("Log-normal spread of individual propensity for each behaviour class (heterogeneity)"),
});

const Behaviour = z.strictObject({
  id,
  class: z.enum(BEHAVIOUR_CLASSES).describe(
    "public: seen in public space; financial: payments, sensitive to income; misconduct: legal and " +
    "academic wrongdoing; speech: expression, subject to chilling; civic: rewarded good deeds"),
  ratePerYear: perYear("Mean rate at which people really do this (ground truth)"),
  points: z.number().min(-10_000).max(10_000).default(0)
    .describe("Points per observed act (negative punishes, positive rewards, 0 ignored by the score)"),
  observedBy: z.array(z.enum(CHANNELS)).default([]).describe("Channels that can observe this behaviour"),
  source: z.string().optional().describe("Where the rate and points come from"),
});

const Cameras = z.strictObject({
  enabled: z.boolean().default(true),
  coverageUrban: rate("Probability that an act in urban public space is in view of a camera").default(0.3),
  coverageRural: rate("Same, in rural areas").default(0.08),
  trueMatchRate: rate("Probability that a face in view is matched to the right person (95.5% best 2018 algorithms)").default(0.955),
  falseMatchRate: rate("Probability per act in view that it is attributed to a wrong person nearby").default(0.002),
  femaleFalseMatchMultiplier: z.number().min(0).max(100).default(3).describe("Multiplier on the false-match rate when the wrongly matched person is a woman (2-5x, NIST FRVT 2019)"),
  phantomPerYear: perYear("Acts that never happened but are recorded (a face on a bus advertisement), per covered person").default(0.002),
});

const Records = z.strictObject({
  enabled: z.boolean().default(true),
  coverage: rate("Share of financial and legal events that reach the records").default(0.95),
  clericalErrorRate: rate("Share of records filed against the wrong person").default(0.002),
});

const Online = z.strictObject({
  enabled: z.boolean().default(true),
  coverage: rate("Share of flagged-type posts detected by monitoring").default(0.3),
  falsePositivePerYear: perYear("Innocent posts flagged as rumours or dissent").default(0.01),
});

const Informants = z.strictObject({
  enabled: z.boolean().default(true),
  share: rate("Share of citizens who inform on others").default(0.02),
  reportProbability: rate("Probability an informant reports an act of a contact they witness").default(0.3),
  falseReportsPerYear: z.number().min(0).max(365).default(0.5).describe("False reports per informant-year"),
  rewardPerReport: z.number().min(0).max(1e6).default(50).describe("Reward paid per accepted report (currency units; up to ~100,000 for state-security tips)"),
  referenceReward: z.number().positive().max(1e6).default(50)
    .describe("The reward at which `share`, `reportProbability` and `falseReportsPerYear` hold as given (see rewardElasticity)"),
  rewardElasticity: z.number().min(0).max(5).default(0).describe(
    "How the share of informants and each one's report probability respond to the reward r: each is multiplied by " +
    "((r + referenceReward) / (2 referenceReward))^rewardElasticity (1 at the reference; unpaid, 2^-e of it; far above it, elasticity e). " +
    "The share is drawn on day 0, from the reward in force then. 0: no response (assumption: no study measures it; docs/model.md §15b)"),
  falseReportElasticity: z.number().min(0).max(5).optional()
    .describe("The same for false reports per informant (default: rewardElasticity; a false report is paid like a true one and costs less to make)"),
  rewardIncomeDays: z.number().int().min(0).max(3650).default(0).describe(
    "Rewards are paid into the informant's daily income, spread over about this many days (a reward r adds r/days, decaying by e^(-1/days) a day: " +
    "the income it adds sums to r); income lowers the income stress on financial acts and raises what people attempt. 0: rewards reach no one's income"),
});

const Attention = z.strictObject({
  enabled: z.boolean().default(false),
  behaviour: id.default("inattention").describe("Behaviour id recorded when a session flags inattention"),
  memberShare: rate("Share of citizens (party members) who attend political education").default(0.065),
  sessionsPerYear: z.number().min(0).max(365).default(12),
  inattentiveRate: rate("Probability a member is really inattentive in a session").default(0.1),
  accuracy: rate("Probability the kiosk's reading (expression, brain waves) is right").default(0.6),
});

const Targeting = z.strictObject({
  enabled: z.boolean().default(false),
  everyDays: z.number().int().min(1).max(3650).default(30).describe("Days between reallocations"),
  share: rate("Share of the watch budget moved each time").default(0.5),
  mode: z.enum(["recorded", "corrected"]).default("recorded").describe(
    "recorded: allocate by recorded offences per capita (the runaway loop of Ensign et al. 2018); " +
    "corrected: by recorded offences divided by those expected at the current coverage if every unit's rate were the national one (an estimate of the relative true rate)"),
  by: z.enum(["region", "group", "both"]).default("region").describe(
    "What the watch is reallocated between: regions, population groups (the runaway loop for a watched minority), or both (each its own weights, multiplied)"),
});

const Observation = z.strictObject({
  errorsFallOn: z.enum(["plausible", "anyone"]).default("plausible").describe(
    "Who a misattribution, a clerical error or an invented observation can fall on. plausible: only someone who can be " +
    "subject to that act (whose age band does acts of its class: no child gets a court or financial act); anyone: whoever is drawn"),
  cameras: Cameras.prefault({}),
  records: Records.prefault({}),
  online: Online.prefault({}),
  informants: Informants.prefault({}),
  attention: Attention.prefault({}),
  targeting: Targeting.prefault({}),
});

const Grade = z.strictObject({ name: z.string().min(1), min: z.number().describe("Lowest score in the band") });

const Scoring = z.strictObject({
  initial: z.number().min(-1e6).max(1e6).default(1000).describe("Score everyone starts with"),
  min: z.number().min(-1e6).max(1e6).default(0).describe("Floor of the scale"),
  max: z.number().min(-1e6).max(1e6).default(1300).describe("Ceiling of the scale"),
  expiryDays: z.number().int().min(0).max(36500).default(0).describe("Points expire after this many days (0: never)"),
  decayPerYear: rate("Yearly pull of every score back towards the initial value (0: none)").default(0),
  eventCap: z.number().min(0).max(1e6).default(0).describe("Largest change one observation may cause (0: no cap)"),
  grades: z.array(Grade).default([]).describe("Grade bands, any order; a score gets the band with the highest min not above it"),
  secrecy: z.enum(["secret", "published"]).default("secret").describe(
    "secret: people cannot tell what is punished (weaker deterrence, broader chilling, no reasons shown); published: rules known"),
  awareness: rate("Share of people who know the score exists and act on it").default(0.8),
  deterrence: rate("Largest relative fall in punished acts under full perceived watch").default(0.5),
  chilling: rate("Largest relative fall in speech under full perceived watch").default(0.4),
  incentive: rate("Largest relative rise in rewarded acts when rules are published").default(0.3),
  secretDeterrence: rate("Deterrence under secret rules relative to published ones (people cannot tell what to avoid)").default(0.5),
  secretChilling: z.number().min(1).max(10).default(1.5).describe("Chilling under secret rules relative to published ones (uncertainty silences more)"),
  alarmDays: z.number().int().min(0).max(3650).default(90).describe("Days a penalised person stays extra careful"),
  alarmEffect: rate("Extra deterrence and chilling while alarmed").default(0.3),
  incomeStress: z.number().min(0).max(100).default(1).describe("Elasticity of financial misbehaviour to low income (the sanction-income feedback)"),
  association: z.strictObject({
    enabled: z.boolean().default(false),
    householdShare: rate("Share of a penalty charged to each household member").default(0.1),
    friendShare: rate("Share of a penalty charged to each friend").default(0.05),
    pull: rate("Pull of each score towards the mean of one's contacts, per pull period").default(0),
    pullEveryDays: z.number().int().min(1).max(3650).default(30),
  }).prefault({}),
});

const ListEntry = z.strictObject({
  scoreBelow: z.number().optional().describe("Blacklist: enter when the score falls below this"),
  scoreAtLeast: z.number().optional().describe("Redlist: enter when the score reaches this"),
  acts: z.array(id).default([]).describe("Behaviours whose observation lists a person directly"),
  firms: z.boolean().default(false).describe(
    "Blacklist: the legal representative of a firm on the firm blacklist (firms.blacklistBelow) is on this list for as long as the firm is"),
});

/** What a list and a family of lists share: kind, entry rule, ways off and consequences. */
const listRule = {
  kind: z.enum(["black", "red"]),
  description: z.string().optional(),
  entry: ListEntry,
  minDays: z.number().int().min(0).max(36500).default(0).describe("Days on the list before a score-based exit is possible"),
  durationDays: z.number().int().min(0).max(36500).default(0).describe("Act-based listings end after this many days (0: never by time)"),
  paymentExit: z.strictObject({
    enabled: z.boolean().default(false),
    perYear: z.number().min(0).max(365).default(1).describe("Rate at which an act-listed person pays what is owed (scaled by income)"),
    delayDays: z.number().int().min(0).max(365).default(3).describe("Days from paying to leaving the list"),
  }).prefault({}),
  published: z.boolean().default(false).describe("Names are published (public shaming)"),
  sanctions: z.array(z.enum(SANCTIONS)).default([]),
  privileges: z.array(z.enum(PRIVILEGES)).default([]),
};

/**
 * At most this many lists, written and generated together: the documented system has 427 (273
 * blacklists, 154 redlists; docs/model.md). A list costs no memory per citizen (membership is
 * sparse), but its rules are looked at for the acts it names and the regions it covers, and the
 * tables name every list: the bound keeps a scenario's load and outputs in proportion.
 */
export const MAX_LISTS = 500;

const List = z.strictObject({
  id,
  ...listRule,
  regions: z.array(z.string().min(1).max(100)).min(1).max(256).optional().describe(
    "Regions (names in population.regions) whose residents the list covers; absent: the whole country"),
  reported: z.boolean().optional().describe(
    "Per-cell daily columns of its own in the daily tables (absent: true for a list written here, false for one generated " +
    "from listFamilies); every list has its rows in list_daily and its keys in the summary either way (docs/outputs.md)"),
  family: id.optional().describe("Set at load on the lists generated from listFamilies (the family's id); not written by hand"),
});

const ListFamily = z.strictObject({
  id: id.describe("The family's id, the prefix of its lists' ids: `<id>-<region>-<k>` (region in lower case, k from 1)"),
  ...listRule,
  count: z.number().int().min(0).max(MAX_LISTS).default(0).describe("How many lists of the family each region not named in perRegion has"),
  perRegion: z.record(z.string().min(1).max(100), z.number().int().min(0).max(MAX_LISTS)).default({}).describe(
    "How many lists of the family a region has, by region name, where it differs from count"),
  reported: z.boolean().default(false).describe("Give each generated list daily columns of its own (see lists[].reported)"),
});

/**
 * What holding a sanction does to the person, besides blocking the attempts counted above. Each
 * share is the part of something that stops while the sanction is held (0: the sanction has no
 * such effect); a person holding several sanctions keeps the product of what each leaves. A ban
 * listed today takes effect from tomorrow's acts (the day's acts are done before the lists move).
 */
interface SanctionEffects { silence: number; confine: number; houseArrest: number; children: boolean }
const sanctionEffects = (d: SanctionEffects, why: string) => z.strictObject({
  silence: rate("Share of the holder's speech acts that stop (the run reports them as `speech_silenced`, apart from chilling)").default(d.silence),
  confine: rate("Share of the holder's travel attempts (flights, trains, hotels) that are not made at all: they stay home rather than being refused (`trips_prevented`)").default(d.confine),
  houseArrest: rate("Share of the holder's public acts that stop (kept at home; `public_acts_prevented`)").default(d.houseArrest),
  children: z.boolean().default(d.children)
    .describe("The sanction reaches the minors of the holder's household (the first age band): each of them attempts too, and is blocked (`children_blocked`)"),
}).prefault({}).describe(`What holding the sanction does to the person. Defaults: ${why}`);

interface ConsequenceDefaults { attemptsPerYear: number; incomeEffect: number; why?: string; effects?: Partial<SanctionEffects> }
const NO_EFFECTS: SanctionEffects = { silence: 0, confine: 0, houseArrest: 0, children: false };

/** A sanction's or privilege's fields, with that kind's defaults on every field (so overriding one field keeps the others). */
const consequenceRate = (d: ConsequenceDefaults, sanction: boolean) => {
  const fields = {
    attemptsPerYear: perYear("Attempts per person (flights, bookings, applications...)").default(d.attemptsPerYear),
    incomeEffect: z.number().min(-1).max(1).default(d.incomeEffect)
      .describe("Relative change of income for as long as the consequence is held: income returns to the base when it ends (a job ban lowers it; a deposit waiver's saved spending or a job priority raises it)"),
    afterBlock: rate("Attempt rate multiplier after a blocked attempt (people learn)").default(0.7),
  };
  return (sanction
    ? z.strictObject({ ...fields, effects: sanctionEffects({ ...NO_EFFECTS, ...d.effects }, d.why ?? "none (the reports name no effect beyond the blocked attempts)") })
    : z.strictObject(fields)).prefault({});
};

const DEFAULT_SANCTIONS: Record<(typeof SANCTIONS)[number], ConsequenceDefaults> = {
  // Travel bans block purchases: 17.46 M blocked flights in 2018 are attempts people made
  // (docs/model.md §8), so by default they do not keep anyone at home (confine 0, an assumption).
  flights: { attemptsPerYear: 2.4, incomeEffect: -0.05 },
  trains: { attemptsPerYear: 1.4, incomeEffect: -0.03 },
  hotels: { attemptsPerYear: 1.5, incomeEffect: 0 },
  property: { attemptsPerYear: 0.05, incomeEffect: 0 },
  // The court list's ban is on high-fee private schools "for one's children" (high-consumption provisions, art. 3).
  "private-schools": { attemptsPerYear: 0.05, incomeEffect: 0, effects: { children: true }, why: "reaches the children (high-consumption provisions, art. 3: private schools for one's children)" },
  jobs: { attemptsPerYear: 0.3, incomeEffect: -0.15 },
  loans: { attemptsPerYear: 0.3, incomeEffect: -0.05 },
  // Accounts suspended or deleted (docs/model.md §8); which share of speech is online is an assumption.
  "social-media": { attemptsPerYear: 50, incomeEffect: 0, effects: { silence: 0.5 }, why: "silence 0.5: accounts suspended or deleted (docs/model.md §8); that half of speech goes through them is an assumption" },
  // The internet slowed, not cut (docs/model.md §8): a quarter of speech stops (assumption).
  internet: { attemptsPerYear: 50, incomeEffect: -0.02, effects: { silence: 0.25 }, why: "silence 0.25: the internet slowed, not cut (docs/model.md §8); the share is an assumption" },
  deposits: { attemptsPerYear: 2, incomeEffect: -0.01 },
};
const DEFAULT_PRIVILEGES: Record<(typeof PRIVILEGES)[number], ConsequenceDefaults> = {
  "deposit-waiver": { attemptsPerYear: 3, incomeEffect: 0.005 },
  "vip-airport": { attemptsPerYear: 1, incomeEffect: 0 },
  "loan-discount": { attemptsPerYear: 0.3, incomeEffect: 0.02 },
  "energy-discount": { attemptsPerYear: 12, incomeEffect: 0.01 },
  "job-priority": { attemptsPerYear: 0.3, incomeEffect: 0.05 },
  "fast-visa": { attemptsPerYear: 0.2, incomeEffect: 0 },
  "dating-visibility": { attemptsPerYear: 5, incomeEffect: 0 },
  "transit-discount": { attemptsPerYear: 200, incomeEffect: 0.01 },
  // No deposit to rent a car or goods (commercial scores: car rental at ~650, goods at ~700).
  "rental-waiver": { attemptsPerYear: 1, incomeEffect: 0.002 },
  // Discounted training courses (the youth scoring app's education benefit).
  "course-discount": { attemptsPerYear: 1, incomeEffect: 0 },
};
const sanctionRates = z.strictObject(Object.fromEntries(SANCTIONS.map((k) => [k, consequenceRate(DEFAULT_SANCTIONS[k], true)])) as {
  [K in (typeof SANCTIONS)[number]]: ReturnType<typeof consequenceRate> & z.ZodType<{ attemptsPerYear: number; incomeEffect: number; afterBlock: number; effects: SanctionEffects }>
}).prefault({} as never);
const privilegeRates = z.strictObject(Object.fromEntries(PRIVILEGES.map((k) => [k, consequenceRate(DEFAULT_PRIVILEGES[k], false)])) as {
  [K in (typeof PRIVILEGES)[number]]: ReturnType<typeof consequenceRate> & z.ZodType<{ attemptsPerYear: number; incomeEffect: number; afterBlock: number }>
}).prefault({} as never);

const Consequences = z.strictObject({
  sanctions: sanctionRates.describe("How often people attempt what each sanction blocks, and what holding it does to them"),
  privileges: privilegeRates.describe("How often people use what each privilege grants, and what holding it does to their income"),
});

/**
 * Visible scores: an app shows people their contacts' scores (a dating app, a citizen app with
 * friends' grades), and people drop ties to those whose score is low. Off unless a scenario
 * documents such an app.
 */
const Visibility = z.strictObject({
  enabled: z.boolean().default(false),
  lowScoreBelow: z.number().min(-1e6).max(1e6).default(600)
    .describe("A score below this counts as low (for example the lowest grade's upper bound)"),
  dropPerYear: rate("Yearly probability that each contact drops their tie to a low-scored person, for as long as the score stays low (assumption: the reports give no rate)").default(0.1),
});

const Shaming = z.strictObject({
  enabled: z.boolean().default(true),
  dropOnPublishedListing: rate("Probability each contact drops a tie when a listing is published").default(0.15),
  dropOnListing: rate("Same for an unpublished listing (word gets around)").default(0.03),
  dropPerYearWhileListed: rate("Yearly probability each remaining tie of a listed person is dropped").default(0.1),
});

const AppealStage = z.strictObject({
  latencyDays: z.number().int().min(0).max(3650).default(15),
  capacityPerMillionPerDay: z.number().min(0).max(1e6).default(20).describe("Decisions per day per million citizens (a queue forms beyond)"),
  accuracy: rate("Probability the decision is right (a wrongful listing is lifted, a rightful one upheld)").default(0.8),
  escalate: rate("Share of losers who take the next stage").default(0.3),
});

const Appeals = z.strictObject({
  enabled: z.boolean().default(false),
  fileRate: rate("Share of rightfully listed people who appeal").default(0.05),
  fileRateWrongful: rate("Share of wrongfully listed people who appeal").default(0.3),
  stages: z.array(AppealStage).min(1).max(5).prefault([{}]).describe("Successive review stages; the listing stays in force meanwhile"),
});

const FirmBehaviour = z.strictObject({
  id,
  ratePerYear: z.number().min(0).max(1000).describe("Mean rate per firm-year"),
  points: z.number().min(-10_000).max(10_000),
  source: z.string().optional(),
});

const Firms = z.strictObject({
  enabled: z.boolean().default(false),
  perCitizen: z.number().min(0).max(1).default(0.0236).describe("Scored firms per citizen (33 M firms for 1.4 B people)"),
  initial: z.number().default(100),
  min: z.number().default(0),
  max: z.number().default(100),
  recoveryPerYear: z.number().min(0).max(1e4).default(10).describe("Points a firm regains per year of clean record"),
  behaviours: z.array(FirmBehaviour).default([]),
  grades: z.array(Grade).default([{ name: "A", min: 90 }, { name: "B", min: 70 }, { name: "C", min: 40 }, { name: "D", min: -1e9 }])
    .describe("Tax credit grades: A >= 90, D < 40 (tax administration, 2019)"),
  blacklistBelow: z.number().default(40).describe("Firms below this score are blacklisted (their representatives go on the lists with entry.firms)"),
  assessment: z.enum(["running", "yearly"]).default("running").describe(
    "running: a firm's score runs on from its first day and it is blacklisted the day the score falls below blacklistBelow; " +
    "yearly: as the tax credit rating, each calendar year is graded on its own record: the score starts every 1 January from `initial`, " +
    "and a firm whose year ended below blacklistBelow is blacklisted for the whole next year (none is before the first year ends)"),
  propensitySigma: z.number().min(0).max(3).default(1.2),
});

const Target = z.strictObject({
  metric: z.string().min(1).describe(
    "A summary metric key (docs/outputs.md, Summary metrics); for a dated target (with `at`), a column of the daily table " +
    "(such as `entries_<list>`, `exits_paid_<list>`, `blocked_flights`, `on_<list>`)"),
  value: z.number(),
  tolerance: z.number().positive().max(100).default(0.25).describe("Allowed relative deviation"),
  at: z.iso.date().optional().describe(
    "A dated target: the daily metric per person, for a stock its value at the end of this date, for a flow its sum from `from` to this date"),
  from: z.iso.date().optional().describe("First day a dated flow target sums (default: the run's first day, so a cumulative count since it began)"),
  source: z.string().optional(),
});

const CalibrationParameter = z.strictObject({
  path: z.string().min(1).describe("Parameter path, e.g. `behaviours.judgment-default.ratePerYear` (ids pick list elements)"),
  min: z.number().describe("Lowest value the fit may try"),
  max: z.number().describe("Highest value the fit may try"),
});

const Calibration = z.strictObject({
  population: z.number().int().min(100).max(10_000_000).default(20_000).describe("Citizens per evaluation while fitting (rates, not counts, are fitted)"),
  days: z.number().int().min(1).max(36500).optional().describe("Days per evaluation (default: the scenario's days)"),
  seeds: z.array(z.number().int().min(0).max(4_294_967_295)).min(1).max(16).default([1, 2])
    .describe("Seeds averaged in each evaluation, each once; the same seeds every time, the range step's too (common random numbers), so the fit is deterministic"),
  evaluations: z.number().int().min(1).max(10_000).default(60).describe("Most objective evaluations (each runs every seed)"),
  rangeEvaluations: z.number().int().min(0).max(10_000).optional()
    .describe("Most evaluations after the fit for the range of each parameter where every target holds (default: 10 per parameter; 0 skips it)"),
  parameters: z.array(CalibrationParameter).min(1).max(20).describe("Parameters to fit to the targets, each within [min, max]"),
}).describe("What `credence calibrate` fits, and how");

const Graph = z.strictObject({
  friendsMean: z.number().min(0).max(500).default(8).describe("Mean number of friends"),
  longTieShare: rate("Share of friendships that cross regions").default(0.1),
  neighbourhood: z.number().int().min(2).max(1e9).default(2000)
    .describe("Other ties join people within a neighbourhood of this many citizens of the same region (households are laid out contiguously, so near ids are near people)"),
});

const Metrics = z.strictObject({
  distributionEveryDays: z.number().int().min(1).max(3650).default(30).describe("Days between score-distribution snapshots"),
  distributionBins: z.number().int().min(2).max(200).default(20),
  trailSample: z.number().int().min(0).max(10_000_000).default(20_000)
    .describe("Citizens whose full trail is kept (everyone if the population is at most this)"),
});

const Mechanisms = z.strictObject({
  deterrence: z.boolean().default(true),
  chilling: z.boolean().default(true),
  incomeFeedback: z.boolean().default(true),
  association: z.boolean().default(true).describe("Master switch over scoring.association"),
  lists: z.boolean().default(true),
  sanctions: z.boolean().default(true),
  privileges: z.boolean().default(true),
  shaming: z.boolean().default(true),
  silencing: z.boolean().default(true).describe("Master switch over the sanctions' effects.silence"),
  confinement: z.boolean().default(true).describe("Master switch over the sanctions' effects.confine and effects.houseArrest"),
  sanctionsReachChildren: z.boolean().default(true).describe("Master switch over the sanctions' effects.children"),
  visibility: z.boolean().default(true).describe("Master switch over visibility.enabled"),
  appeals: z.boolean().default(true).describe("Master switch over appeals.enabled"),
  firms: z.boolean().default(true).describe("Master switch over firms.enabled"),
}).describe("Switch any mechanism off to see what it does");

/**
 * Most entries a timeline may hold: the loader validates the scenario in force on each day an
 * entry starts and on a ramp's first and last moving days, so this bounds loading (under a
 * second at 500 entries on china-2018-documented).
 */
export const MAX_TIMELINE_ENTRIES = 500;

/** A value a timeline may `set`: a number, a boolean, a string, or a list of them (sanctions). */
const TimelineValue = z.union([z.number(), z.boolean(), z.string().max(200), z.array(z.union([z.number(), z.boolean(), z.string().max(200)])).max(64)]);

const TimelineEntry = z.strictObject({
  id: id.optional().describe("Names the entry, so that a scenario extending this one can drop it (`- drop: <id>`)"),
  date: z.iso.date().optional().describe("set, add, remove: the first day the change holds (it holds to the end of the run unless a later entry changes the same path)"),
  from: z.iso.date().optional().describe("ramp: the day the value is the first number of `ramp`"),
  to: z.iso.date().optional().describe("ramp: the day the value reaches the second number (it keeps it after); between the two it moves linearly"),
  path: z.string().min(1).max(200).describe(
    "The parameter changed, written as in `calibration:` (`lists.court-defaulters.sanctions`, `observation.cameras.coverageUrban`, `mechanisms.appeals`). " +
    "Fixed for the run, so refused: name, title, description, startDate, days, population, graph, metrics, targets, calibration, timeline, " +
    "firms.perCitizen, firms.propensitySigma, observation.informants.share, observation.attention.memberShare (drawn on day 0), any element's id, name, kind or class, and whole lists of elements (their number and order)"),
  set: TimelineValue.optional().describe("The value from `date` on (any value the field accepts; a boolean switches a mechanism or channel on or off)"),
  ramp: z.tuple([z.number(), z.number()]).optional().describe("[value on `from`, value on `to`] of a number"),
  add: z.string().max(200).optional().describe("A name added to the list at `path` from `date` on (a sanction: `path: lists.<id>.sanctions`, `add: flights`)"),
  remove: z.string().max(200).optional().describe("A name removed from the list at `path` from `date` on"),
  source: z.string().max(2000).optional().describe("Where the date comes from (a citation)"),
  note: z.string().max(2000).optional(),
}).superRefine((e, ctx) => {
  const changes = (["set", "ramp", "add", "remove"] as const).filter((k) => e[k] !== undefined);
  if (changes.length !== 1) ctx.addIssue({ code: "custom", path: changes[1] ? [changes[1]] : [], message: `exactly one of set, ramp, add, remove (found ${changes.length ? changes.join(", ") : "none"})` });
  else if (changes[0] === "ramp") {
    if (e.date !== undefined) ctx.addIssue({ code: "custom", path: ["date"], message: "from and to on a ramp, not date" });
    if (e.from === undefined) ctx.addIssue({ code: "custom", path: ["from"], message: "the date a ramp starts" });
    if (e.to === undefined) ctx.addIssue({ code: "custom", path: ["to"], message: "the date a ramp ends" });
  } else {
    if (e.date === undefined) ctx.addIssue({ code: "custom", path: ["date"], message: `the date the ${changes[0]} takes effect` });
    for (const k of ["from", "to"] as const) if (e[k] !== undefined) ctx.addIssue({ code: "custom", path: [k], message: "date, not from and to (those are for a ramp)" });
  }
});

export const ScenarioSchema = z.strictObject({
  name: id.describe("Scenario id; the default run folder is runs/<name>"),
  title: z.string().default(""),
  description: z.string().default(""),
  startDate: z.iso.date().default("2018-01-01").describe("Calendar date of day 0"),
  reportFrom: z.iso.date().optional().describe(
    "First date the run reports: the days before it are a warm-up, simulated (lists, scores and ties fill as they would have) " +
    "but left out of the daily tables and of the summary's counts, rates and people ever listed. Dated targets and the event " +
    "logs keep every day. Default: startDate"),
  days: z.number().int().min(1).max(36500).default(365).describe("Days to simulate (the CLI's --days overrides it)"),
  population: Population,
  graph: Graph.prefault({}),
  behaviours: z.array(Behaviour).min(1).max(64),
  observation: Observation.prefault({}),
  scoring: Scoring.prefault({}),
  lists: z.array(List).max(MAX_LISTS).default([]).describe(`Blacklists and redlists (at most ${MAX_LISTS}, with those listFamilies generates)`),
  listFamilies: z.array(ListFamily).max(64).optional().describe(
    "Lists generated from a compact table at load: each family gives, per region, how many lists share its entry rule and " +
    "consequences; they are appended to lists (with `family` set), and a timeline or calibration changes one by its id"),
  consequences: Consequences.prefault({}),
  shaming: Shaming.prefault({}),
  visibility: Visibility.prefault({}).describe("Scores others can see, and the ties people drop to low-scored contacts"),
  appeals: Appeals.prefault({}),
  firms: Firms.prefault({}),
  mechanisms: Mechanisms.prefault({}),
  metrics: Metrics.prefault({}),
  targets: z.array(Target).default([]),
  checks: z.array(Target).max(500).default([]).describe(
    "Published figures the scenario is NOT fitted to (other years, other sources), shown beside the simulated value " +
    "like targets but never used by calibrate: how the model fares out of sample"),
  calibration: Calibration.optional(),
  timeline: z.array(TimelineEntry).max(MAX_TIMELINE_ENTRIES).optional().describe(
    "Dated changes to parameters, in date order: the scenario in force on a day is this file with every entry dated on or before it applied in turn " +
    "(at most 500 entries). Absent: the parameters hold for the whole run (and the scenario's hash is what it was before timelines existed). " +
    "With `extends:`, the child's entries follow the parent's, sorted by date stably (a child entry on the same day as a parent's wins); " +
    "`- drop: <id>` in the child's list removes the parent's entry with that id, and `timeline: null` all of them; " +
    "a mapping instead of a list patches the parent's entries by id (`timeline: { travel-ban-2018: { date: 2016-01-01 } }` moves one)"),
});

export type Scenario = z.output<typeof ScenarioSchema>;
export type ScenarioInput = z.input<typeof ScenarioSchema>;
export type Behaviour = Scenario["behaviours"][number];
export type ListRule = Scenario["lists"][number];
export type ListFamilyRule = NonNullable<Scenario["listFamilies"]>[number];
export type TimelineEntry = NonNullable<Scenario["timeline"]>[number];
export type BehaviourClass = (typeof BEHAVIOUR_CLASSES)[number];
export type Channel = (typeof CHANNELS)[number];
export type Sanction = (typeof SANCTIONS)[number];
export type Privilege = (typeof PRIVILEGES)[number];
