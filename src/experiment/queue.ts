// Running point-replicates on many machines through a BullMQ queue in Redis.
//
// The coordinator (the `sweep --queue` process) puts one job per unfinished point-replicate
// on the queue, with the task id as BullMQ job id, so a job is never queued twice. Workers
// (`credence worker --queue`, any number, on any machine) take jobs, simulate them in a worker
// thread (runJob, as the local pool does) and return the kept metrics as the job's return
// value. The coordinator collects finished jobs into the experiment folder's results log and
// removes them from Redis. A job whose simulation throws is retried (attempts, exponential
// backoff) and then reported as failed; a job whose worker died (SIGKILL, power cut) loses
// its lock and BullMQ's stalled-job check hands it to another worker.
import { gunzipSync, gzipSync } from "node:zlib";
import { hostname } from "node:os";
import { Queue, Worker, type ConnectionOptions, type Job as BullJob } from "bullmq";
import { runJob, type Job, type RunningJob } from "./pool.js";
import type { TaskResult } from "./store.js";

export const DEFAULT_QUEUE_NAME = "credence-sweep";

/** What travels through Redis: the job with its scenario gzipped (12 KB of JSON -> 3 KB). */
interface WireJob {
  task: Job["task"];
  scenario: string;
  population: number;
  days: number;
  metrics: string[];
}

const encode = (j: Job): WireJob => ({ ...j, scenario: gzipSync(JSON.stringify(j.scenario)).toString("base64") });
const decode = (w: WireJob): Job => ({ ...w, scenario: JSON.parse(gunzipSync(Buffer.from(w.scenario, "base64")).toString("utf8")) as Job["scenario"] });

/** BullMQ connection options for a redis:// or rediss:// URL. */
export function connectionFor(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--queue ${url}: expected a Redis URL such as redis://127.0.0.1:6379`);
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") throw new Error(`--queue ${url}: expected a redis:// or rediss:// URL`);
  // Workers block on Redis; BullMQ requires ioredis not to give up on those commands.
  return { url, maxRetriesPerRequest: null };
}

/** Waits for Redis, or throws a clear error after `seconds`. */
async function ready(client: Queue | Worker, url: string, seconds = 10): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`cannot reach Redis at ${url} (no answer within ${seconds} s); is redis-server running there?`)), seconds * 1000);
  });
  try {
    await Promise.race([client.waitUntilReady(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface CoordinatorOptions {
  url: string;
  queueName?: string;
  /** Tries per job before it is reported as failed. */
  attempts?: number;
  /** First retry delay in ms (doubling after). */
  backoffMs?: number;
  pollMs?: number;
  onDone: (r: TaskResult) => void;
  onFailed: (job: Job, reason: string) => void;
  /** Said once when no worker is connected to the queue. */
  onNoWorkers?: () => void;
}

export interface Coordinator {
  done: Promise<void>;
  /** Stops collecting; queued jobs stay in Redis for a later run of the same sweep to collect. */
  stop: () => Promise<void>;
}

/** Queues `jobs` and collects their results until each has completed or failed. */
export function coordinate(jobs: Job[], opts: CoordinatorOptions): Coordinator {
  const queue = new Queue(opts.queueName ?? DEFAULT_QUEUE_NAME, { connection: connectionFor(opts.url) });
  queue.on("error", () => undefined); // connection errors surface through ready() and the calls below
  const pending = new Map(jobs.map((j) => [j.task.id, j]));
  let stopped = false;

  const collect = async (): Promise<void> => {
    await ready(queue, opts.url);
    // A failed job left by an earlier run would block re-adding its id: clear ours, so they run again.
    for (const j of await queue.getFailed(0, -1)) if (j?.id && pending.has(j.id)) await j.remove();
    const list = [...pending.values()];
    for (let i = 0; i < list.length; i += 500) {
      await queue.addBulk(list.slice(i, i + 500).map((j) => ({
        name: `point-${j.task.point}-replicate-${j.task.replicate}`,
        data: encode(j),
        opts: { jobId: j.task.id, attempts: opts.attempts ?? 3, backoff: { type: "exponential", delay: opts.backoffMs ?? 2000 } },
      })));
    }
    if (opts.onNoWorkers && (await queue.getWorkersCount()) === 0) opts.onNoWorkers();
    while (!stopped && pending.size) {
      const finished: BullJob[] = (await queue.getCompleted(0, 999)).filter((j): j is BullJob => Boolean(j?.id && pending.has(j.id)));
      for (const j of finished) {
        pending.delete(j.id!);
        opts.onDone(j.returnvalue as TaskResult); // stored durably before the job leaves Redis
        await j.remove();
      }
      const failed: BullJob[] = (await queue.getFailed(0, 999)).filter((j): j is BullJob => Boolean(j?.id && pending.has(j.id)));
      for (const j of failed) {
        const job = pending.get(j.id!)!;
        pending.delete(j.id!);
        opts.onFailed(job, `${j.failedReason ?? "unknown error"} (after ${j.attemptsMade} attempt${j.attemptsMade === 1 ? "" : "s"})`);
        await j.remove();
      }
      if (!finished.length && !failed.length) await sleep(opts.pollMs ?? 250);
    }
  };
  const done = collect().finally(() => queue.close());
  return {
    done,
    stop: async () => {
      stopped = true;
      await done.catch(() => undefined);
    },
  };
}

export interface QueueWorkerOptions {
  url: string;
  queueName?: string;
  /** Simulations at once in this process. */
  concurrency: number;
  /** Lock on a running job, ms; a dead worker's job is taken over once it expires. */
  lockDurationMs?: number;
  /** How often this worker looks for stalled jobs (of dead workers), ms. */
  stalledIntervalMs?: number;
  /** Leave once the queue has had nothing to do for this long. */
  idleSeconds?: number;
  onStart?: (job: Job) => void;
  onDone?: (r: TaskResult) => void;
  onError?: (job: Job | null, e: Error) => void;
}

export interface QueueWorker {
  name: string;
  /** Resolves with the number of jobs completed here, once the queue is empty. */
  done: Promise<number>;
  /** Stops at once: running simulations are dropped, their jobs stall and go to another worker. */
  stop: () => Promise<void>;
}

/** Takes jobs from the queue until it has been empty (nothing waiting, delayed or running) for idleSeconds. */
export function startQueueWorker(opts: QueueWorkerOptions): QueueWorker {
  const name = `${hostname()}:${process.pid}`;
  const connection = connectionFor(opts.url);
  const queueName = opts.queueName ?? DEFAULT_QUEUE_NAME;
  const running = new Set<RunningJob>();
  let completed = 0;
  const worker = new Worker<WireJob, TaskResult>(
    queueName,
    async (bull) => {
      const job = decode(bull.data);
      opts.onStart?.(job);
      const run = runJob(job, name);
      running.add(run);
      try {
        const r = await run.result;
        completed++;
        opts.onDone?.(r);
        return r;
      } catch (e) {
        opts.onError?.(job, e instanceof Error ? e : new Error(String(e)));
        throw e;
      } finally {
        running.delete(run);
      }
    },
    {
      connection,
      name,
      concurrency: opts.concurrency,
      lockDuration: opts.lockDurationMs ?? 30_000,
      stalledInterval: opts.stalledIntervalMs ?? 30_000,
      maxStalledCount: 1,
      autorun: false,
    },
  );
  worker.on("error", (e) => opts.onError?.(null, e));
  const queue = new Queue(queueName, { connection });
  queue.on("error", () => undefined);
  let stopped = false;

  const loop = async (): Promise<number> => {
    await ready(worker, opts.url);
    void worker.run();
    const idleMs = (opts.idleSeconds ?? 5) * 1000;
    let idleSince = Date.now();
    while (!stopped) {
      await sleep(500);
      const c = await queue.getJobCounts("waiting", "active", "delayed", "prioritized", "waiting-children");
      // Active jobs of other workers count as work: if their worker dies, this one must be here to take them over.
      const busy = running.size > 0 || Object.values(c).some((n) => n > 0);
      if (busy) idleSince = Date.now();
      else if (Date.now() - idleSince >= idleMs) break;
    }
    return completed;
  };
  const done = loop().finally(async () => {
    await worker.close();
    await queue.close();
  });
  return {
    name,
    done,
    stop: async () => {
      stopped = true;
      await Promise.all([...running].map((r) => r.stop().catch(() => undefined)));
      await worker.close(true).catch(() => undefined);
      await queue.close().catch(() => undefined);
    },
  };
}
