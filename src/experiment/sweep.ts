// A sweep: plan the experiment, skip the point-replicates already in the folder's results log,
// run the rest on this machine's cores or through a Redis queue, store each result as it
// arrives, then write the tables and a complete manifest. Interrupted or partly failed, the
// folder says so (status incomplete, with the reason) and a re-run picks up where it stopped.
import fs from "node:fs";
import path from "node:path";
import type { Plan, Task } from "./points.js";
import { runPool, type Job } from "./pool.js";
import { coordinate } from "./queue.js";
import {
  buildTables,
  columnMap,
  EXPERIMENT_MANIFEST,
  finishedResults,
  writeJsonAtomic,
  writeTablesAtomic,
  type ExperimentManifest,
} from "./results.js";
import { RESULTS_FILE, ResultLog, type TaskResult } from "./store.js";
import { SYNTHETIC_STATEMENT } from "../io/synthetic.js";
import { checkResult, Refused } from "./validate.js";

export interface SweepEvents {
  /** Before anything runs: the tasks in all, how many were already finished, and how many points. */
  onPlan?: (total: number, alreadyDone: number, pointsDone: number) => void;
  onTaskDone?: (r: TaskResult) => void;
  /** Every replicate of a point has finished. */
  onPointDone?: (point: number, results: TaskResult[]) => void;
  onFailed?: (task: Task, reason: string) => void;
  /** A queue worker's result was refused and not stored; `retried`: its job went back on the queue (else it failed). */
  onRejected?: (task: Task, reason: string, retried: boolean) => void;
  /** A finished job on the queue that is not a point-replicate of this sweep was ignored. */
  onUnknownJob?: (id: string) => void;
  /** A line of results.jsonl was skipped on resume (its task runs again). */
  onSkippedLine?: (file: string, line: number, reason: string) => void;
  /** Fraction simulated of a running task (local runs only). */
  onFraction?: (task: Task, f: number) => void;
  onNoWorkers?: () => void;
  /** Writing the tables. */
  onWriting?: () => void;
}

export interface SweepOptions {
  out: string;
  version: string;
  /** Local worker threads (ignored with a queue). */
  workers: number;
  queue?: { url: string; queueName?: string; attempts?: number; backoffMs?: number };
  events?: SweepEvents;
}

export interface SweepOutcome {
  manifest: ExperimentManifest;
  /** Simulations run by this sweep (not counting those found finished). */
  ran: number;
}

export interface Sweep {
  done: Promise<SweepOutcome>;
  /** Stops running simulations and marks the folder incomplete with `reason`; what finished is kept. */
  stop: (reason: string) => Promise<void>;
}

/** Refuses a file, or a non-empty folder that is not this experiment's folder. */
export function checkExperimentFolder(dir: string, name: string): void {
  if (!fs.existsSync(dir)) return;
  if (!fs.statSync(dir).isDirectory()) throw new Error(`${dir} exists and is not a folder; choose another --out`);
  const manifest = path.join(dir, EXPERIMENT_MANIFEST);
  if (fs.existsSync(manifest)) {
    let other: string | undefined;
    try {
      other = (JSON.parse(fs.readFileSync(manifest, "utf8")) as { name?: string }).name;
    } catch {
      // unreadable: it is rewritten below
    }
    if (other !== undefined && other !== name) throw new Error(`${dir} holds experiment "${other}", not "${name}"; choose another --out`);
    return;
  }
  if (fs.readdirSync(dir).some((f) => f !== RESULTS_FILE)) {
    throw new Error(`${dir} is not empty and is not an experiment folder (no ${EXPERIMENT_MANIFEST}); choose another --out or empty it`);
  }
}

export function startSweep(plan: Plan, opts: SweepOptions): Sweep {
  const x = plan.experiment;
  const dir = path.resolve(opts.out);
  checkExperimentFolder(dir, x.name);
  fs.mkdirSync(dir, { recursive: true });
  const started = Date.now();
  const ev = opts.events ?? {};
  // A line of results.jsonl counts only if it is a valid result of its task (see validate.ts).
  const taskById = new Map(plan.tasks.map((t) => [t.id, t]));
  const checkLine = (value: unknown): TaskResult => {
    const id = (value as { id?: unknown } | null)?.id;
    if (typeof id !== "string") throw new Refused("no task id");
    const task = taskById.get(id);
    // A result of a point this experiment no longer has (its file was edited) is kept, never read.
    return task ? checkResult(value, task, x.metrics, plan.scenarios[task.point]) : (value as TaskResult);
  };
  const log = ResultLog.open(dir, checkLine, (line, reason) => ev.onSkippedLine?.(path.join(dir, RESULTS_FILE), line, reason));
  const todo = plan.tasks.filter((t) => !log.has(t.id));
  const failed: ExperimentManifest["failed"] = [];
  let ran = 0;
  let createdAt = new Date().toISOString();
  try {
    createdAt = (JSON.parse(fs.readFileSync(path.join(dir, EXPERIMENT_MANIFEST), "utf8")) as { createdAt?: string }).createdAt ?? createdAt;
  } catch {
    // a new folder
  }
  const map = columnMap(plan);
  const manifest = (status: ExperimentManifest["status"], reason: string | undefined, tables: Record<string, number>): ExperimentManifest => ({
    synthetic: true,
    note: SYNTHETIC_STATEMENT,
    status,
    ...(reason ? { reason } : {}),
    name: x.name,
    title: x.title,
    experimentFile: x.source,
    scenarioFile: x.scenarioPath,
    scenario: x.baseScenario.name,
    version: opts.version,
    population: x.population,
    days: x.days,
    replicates: x.replicates,
    seed: x.seed,
    design: x.design,
    parameters: map.parameters.map((p) => ({ ...p, ...(x.labels[p.path] ? { label: x.labels[p.path] } : {}) })),
    metrics: map.metrics.map((m) => ({ ...m, ...(x.labels[m.key] ? { label: x.labels[m.key] } : {}) })),
    points: plan.points.length,
    tasks: plan.tasks.length,
    finished: plan.tasks.filter((t) => log.has(t.id)).length,
    failed,
    ranThisTime: ran,
    mode: opts.queue ? "queue" : "local",
    createdAt,
    updatedAt: new Date().toISOString(),
    wallSeconds: (Date.now() - started) / 1000,
    tables,
  });
  const manifestFile = path.join(dir, EXPERIMENT_MANIFEST);
  writeJsonAtomic(manifestFile, manifest("incomplete", "running", {}));
  const remaining = plan.points.map(() => 0);
  for (const t of todo) remaining[t.point]++;
  ev.onPlan?.(plan.tasks.length, plan.tasks.length - todo.length, remaining.filter((n) => n === 0).length);
  const tasksOf = plan.points.map(() => [] as Task[]);
  for (const t of plan.tasks) tasksOf[t.point].push(t);
  const onDone = (r: TaskResult) => {
    if (!log.append(r)) return;
    ran++;
    ev.onTaskDone?.(r);
    if (--remaining[r.point] === 0) ev.onPointDone?.(r.point, tasksOf[r.point].map((t) => log.get(t.id)!));
  };
  const onFailed = (job: Job, reason: string) => {
    failed.push({ point: job.task.point, replicate: job.task.replicate, seed: job.task.seed, reason });
    ev.onFailed?.(job.task, reason);
  };
  const jobs: Job[] = todo.map((task) => ({ task, scenario: plan.scenarios[task.point], population: x.population, days: x.days, metrics: x.metrics }));

  let stop: () => Promise<void>;
  let finished: Promise<void>;
  if (opts.queue) {
    const c = coordinate(jobs, {
      ...opts.queue,
      check: (job, value) => checkResult(value, job.task, job.metrics, job.scenario),
      onDone,
      onFailed,
      onRejected: (job, reason, retried) => ev.onRejected?.(job.task, reason, retried),
      onUnknown: ev.onUnknownJob,
      onNoWorkers: ev.onNoWorkers,
    });
    stop = c.stop;
    finished = c.done;
  } else {
    const pool = runPool(jobs, opts.workers, {
      onDone,
      onFailed: (job, e) => onFailed(job, e.message),
      onFraction: (job, f) => ev.onFraction?.(job.task, f),
    });
    stop = pool.stop;
    finished = pool.done;
  }

  let stopReason: string | null = null;
  const done = (async (): Promise<SweepOutcome> => {
    try {
      await finished;
      if (stopReason) throw new Error(stopReason);
      ev.onWriting?.();
      const tables = buildTables(plan, finishedResults(plan, log));
      await writeTablesAtomic(dir, tables);
      const rows = Object.fromEntries(tables.map((t) => [t.name, t.rows]));
      const all = plan.tasks.every((t) => log.has(t.id));
      const reason = all ? undefined : `${failed.length} point-replicate${failed.length === 1 ? "" : "s"} failed (see failed); run the sweep again to retry them`;
      const m = manifest(all ? "complete" : "incomplete", reason, rows);
      writeJsonAtomic(manifestFile, m);
      return { manifest: m, ran };
    } finally {
      log.close();
    }
  })();
  return {
    done,
    stop: async (reason: string) => {
      stopReason = reason;
      await stop();
      const m = manifest("incomplete", `${reason}; ${plan.tasks.filter((t) => log.has(t.id)).length} of ${plan.tasks.length} point-replicates finished; run the sweep again to resume`, {});
      writeJsonAtomic(manifestFile, m);
    },
  };
}
