// What a simulation hands back: self-describing tables for the results database, and a
// summary for people and scripts. Plain data only, so a run can be driven from a worker,
// a notebook or the CLI alike.
import type { Scenario } from "../scenario/schema.js";
import type { Table } from "../io/table.js";

export interface SimulateOptions {
  /** Overrides scenario.population.size. */
  population?: number;
  /** Overrides scenario.days. */
  days?: number;
  seed: number;
  /**
   * Threads to run the population's shards on (default: every core, for populations large enough
   * to keep them busy). Results are the same for any number; a pool of runs (sweeps, calibration)
   * passes 1, as its runs are already parallel.
   */
  threads?: number;
  /** Called after every simulated day (and once before day 0 with day = 0). */
  onProgress?: (p: Progress) => void;
  /** Hand over a checkpoint (engine/checkpoint.ts), signed with checkpointKey, after every `everyDays` finished days. */
  checkpoint?: { everyDays: number; write(bytes: Uint8Array, nextDay: number): void };
  /** Checkpoint bytes to continue from, instead of starting at day 0: must be signed with checkpointKey. */
  resume?: Uint8Array;
  /**
   * The run's checkpoint key (HMAC-SHA256, at least 16 bytes; io/checkpoint-key.ts keeps one per
   * run outside the run folder): signs the checkpoints written, and the resumed one must verify with it.
   */
  checkpointKey?: Uint8Array;
  /**
   * Resume without checking the checkpoint's signature (one copied from another account or
   * machine). The population is rebuilt from the seed and the state range-checked all the same.
   */
  resumeUnauthenticated?: boolean;
  /** Asked after every finished day; true stops the run with SimulationStopped (after a checkpoint, if checkpointing). */
  shouldStop?: () => boolean;
}

export interface Progress {
  phase: "population" | "simulate" | "collect";
  day: number;
  days: number;
  /** Calendar date (YYYY-MM-DD) of the day just simulated. */
  date: string;
  elapsedSeconds: number;
}

export interface ListSummary {
  id: string;
  kind: "black" | "red";
  /** People on the list at the end. */
  onListEnd: number;
  /** Of them, listed wrongly: not on the list the error-free record keeps under the same rules. */
  wrongfulEnd: number;
  viaAssociationEnd: number;
  /** People the error-free record has on the list at the end. */
  errorFreeEnd: number;
  /** Listings made over the run (a person listed twice counts twice). */
  entries: number;
  /** Distinct people ever on the list during the run. */
  everListed: number;
  /** Listings ended over the run. */
  exits: number;
}

export interface TargetResult {
  metric: string;
  target: number;
  tolerance: number;
  simulated: number | null;
  pass: boolean;
  source?: string;
}

export interface Summary {
  scenario: string;
  population: number;
  days: number;
  seed: number;
  startDate: string;
  endDate: string;
  lists: ListSummary[];
  /** Blocked attempts over the run, by sanction. */
  blocked: Record<string, number>;
  /** Granted privilege uses over the run, by privilege. */
  granted: Record<string, number>;
  appeals: { filed: number; decided: number; won: number; wonWrongful: number; queuedEnd: number };
  // A value whose denominator is empty (nobody listed, nothing decided) is null, never 0.
  association: { charges: number; points: number; shareOfPenaltyPoints: number | null };
  /** 1 - speech acts / speech expected without any watching, over the run. */
  chilling: number | null;
  tiesDropped: number;
  /** Share of their initial ties that people blacklisted at the end have lost. */
  isolationOfListed: number | null;
  acts: number;
  observations: { true: number; misattributed: number; invented: number };
  informants: { rewardsPaid: number; falseReports: number };
  meanIncome: { blacklisted: number | null; unlisted: number | null; redlisted: number | null };
  /** Flat, scale-free metrics (rates and shares): what targets name and what sweeps compare; null where undefined. */
  metrics: Record<string, number | null>;
  targets: TargetResult[];
  /** Published figures the scenario is not fitted to, beside the simulated values (out of sample). */
  checks: TargetResult[];
}

export interface RunStats {
  wallSeconds: number;
  /** Of the wall time: building the population, its graph and the mechanisms' state, before day 1. */
  buildSeconds: number;
  simulateSeconds: number;
  /** Of the wall time: the summary and the result tables, after the last day. */
  tablesSeconds: number;
  agentDaysPerSecond: number;
  /** Observations (true, misattributed, invented) processed per second of simulation. */
  eventsPerSecond: number;
  stateBytesPerCitizen: number;
  peakRssBytes: number;
  /** Threads the shards ran on (results do not depend on it). */
  threads: number;
  /** Seconds spent in each phase over the run: where the time goes. */
  phaseSeconds: Record<string, number>;
  /** Of those, seconds the calling thread spent blocked until workers answered (0 on one thread). */
  workerWaitSeconds: number;
}

export interface RunResult {
  /** The scenario as resolved: defaults filled, --population and --days applied. */
  scenario: Scenario;
  seed: number;
  tables: Table[];
  summary: Summary;
  stats: RunStats;
}
