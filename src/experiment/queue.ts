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
//
// Neither side trusts the other (validate.ts): a worker unpacks a job within bounds and
// refuses one that is not a valid point or does not fit its machine; the coordinator stores a
// result only if it is a plausible result of the job it was given, and queues the job again
// otherwise. A worker that loses Redis gives up after a bounded time, and a stopped worker
// hands its running jobs back at once.
import { gunzipSync, gzipSync } from "node:zlib";
import { hostname } from "node:os";
import { DelayedError, Queue, UnrecoverableError, Worker, type ConnectionOptions, type Job as BullJob } from "bullmq";
import { Redis as IORedis, type RedisOptions } from "ioredis";
import { estimateRun, runLimitProblems, thisMachine } from "../scenario/limits.js";
import { MAX_SCENARIO_BYTES } from "../scenario/load.js";
import { runJob, type Job, type RunningJob } from "./pool.js";
import type { TaskResult } from "./store.js";
import { checkJob, checkWireJob, Refused, type WireJob } from "./validate.js";

export const DEFAULT_QUEUE_NAME = "credence-sweep";

/**
 * Bounds on a job's scenario (gzipped JSON, base64), checked before it is unpacked: a 256 KB
 * scenario file is well under both, and a gzip bomb is cut off at the unpacked bound.
 */
export const MAX_JOB_SCENARIO_BASE64 = 4 * MAX_SCENARIO_BYTES;
export const MAX_JOB_SCENARIO_JSON = 16 * MAX_SCENARIO_BYTES;

/** What travels through Redis: the job with its scenario gzipped (12 KB of JSON -> 3 KB). */
export const encodeJob = (j: Job): WireJob => ({ ...j, scenario: gzipSync(JSON.stringify(j.scenario)).toString("base64") });

/** A job as a worker receives it, checked (validate.ts) before anything is simulated; Refused otherwise. */
export function decodeJob(data: unknown, machine = thisMachine()): Job {
  const wire = checkWireJob(data);
  if (wire.scenario.length > MAX_JOB_SCENARIO_BASE64) {
    throw new Refused(`job refused: its scenario is ${wire.scenario.length.toLocaleString("en-US")} characters packed, over the ${MAX_JOB_SCENARIO_BASE64.toLocaleString("en-US")} allowed`);
  }
  let text: string;
  try {
    text = gunzipSync(Buffer.from(wire.scenario, "base64"), { maxOutputLength: MAX_JOB_SCENARIO_JSON }).toString("utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Refused(code === "ERR_BUFFER_TOO_LARGE"
      ? `job refused: its scenario unpacks to more than ${MAX_JOB_SCENARIO_JSON.toLocaleString("en-US")} bytes`
      : `job refused: its scenario is not gzipped JSON (${code ?? (e as Error).message})`);
  }
  let scenario: unknown;
  try {
    scenario = JSON.parse(text);
  } catch {
    throw new Refused("job refused: its scenario is not gzipped JSON");
  }
  return checkJob(wire, scenario, machine);
}

/** The URL with its password replaced by ***: what messages and logs may show. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return u.toString();
    u.password = "***";
    return u.toString();
  } catch {
    return "(not a URL)";
  }
}

/** First retry after 100 ms, doubling up to 2 s: a lost Redis is tried every 2 s until the caller gives up. */
const reconnectDelay = (times: number) => Math.min(100 * 2 ** times, 2000);

/**
 * BullMQ connection options for a redis:// or rediss:// URL, with its user name, password
 * (redis://:PASSWORD@HOST:PORT or redis://USER:PASSWORD@HOST:PORT) and database number (/N).
 */
export function connectionFor(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error("--queue: expected a Redis URL such as redis://127.0.0.1:6379 or redis://:PASSWORD@HOST:6379");
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") throw new Error(`--queue ${redactUrl(url)}: expected a redis:// or rediss:// URL`);
  const db = u.pathname.replace(/^\//, "");
  if (db && !/^\d{1,5}$/.test(db)) throw new Error(`--queue ${redactUrl(url)}: expected a database number after the port, such as /0`);
  return {
    host: u.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1",
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(u.protocol === "rediss:" ? { tls: { servername: u.hostname } } : {}),
    // Workers block on Redis; BullMQ requires ioredis not to give up on those commands.
    maxRetriesPerRequest: null,
    retryStrategy: reconnectDelay,
  };
}

/** `promise`, or a rejection with `message` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for Redis (or for `cancelled`), or throws a clear error after `seconds`. */
const ready = (client: Queue | Worker, url: string, seconds = 10, cancelled?: Promise<void>): Promise<void> =>
  within(Promise.race([client.waitUntilReady().then(() => undefined), ...(cancelled ? [cancelled] : [])]), seconds * 1000, `cannot reach Redis at ${redactUrl(url)} (no answer within ${seconds} s); is redis-server running there, and is the password right?`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Text a worker wrote (its name, its failure reason) as it may be shown: no control characters, bounded. */
const printable = (s: string, max = 200) => s.replace(/[^\x20-\x7e\n]/g, "?").slice(0, max);

export interface CoordinatorOptions {
  url: string;
  queueName?: string;
  /** Tries per job before it is reported as failed. */
  attempts?: number;
  /** First retry delay in ms (doubling after). */
  backoffMs?: number;
  pollMs?: number;
  /** A worker's return value as the job's result, or throws (Refused) naming what is wrong with it. */
  check: (job: Job, value: unknown) => TaskResult;
  onDone: (r: TaskResult) => void;
  /** A worker's result was refused; `retried` says whether the job went back on the queue (or failed). */
  onRejected?: (job: Job, reason: string, retried: boolean) => void;
  /** A finished job on the queue that is not one of this sweep's (its id, made printable). */
  onUnknown?: (id: string) => void;
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
    const attempts = opts.attempts ?? 3;
    const bulk = (list: Job[]) => list.map((j) => ({
      name: `point-${j.task.point}-replicate-${j.task.replicate}`,
      data: encodeJob(j),
      opts: { jobId: j.task.id, attempts, backoff: { type: "exponential", delay: opts.backoffMs ?? 2000 } },
    }));
    const list = [...pending.values()];
    for (let i = 0; i < list.length; i += 500) await queue.addBulk(bulk(list.slice(i, i + 500)));
    const rejections = new Map<string, number>();
    const strangers = new Set<string>();
    if (opts.onNoWorkers && (await queue.getWorkersCount()) === 0) opts.onNoWorkers();
    while (!stopped && pending.size) {
      const completed = (await queue.getCompleted(0, 999)).filter((j): j is BullJob => Boolean(j?.id));
      for (const j of completed) {
        // Not a job of this sweep (another sweep's, or forged): left alone, never stored; said once.
        if (pending.has(j.id!) || strangers.has(j.id!)) continue;
        strangers.add(j.id!);
        opts.onUnknown?.(printable(j.id!, 100));
      }
      const finished = completed.filter((j) => pending.has(j.id!));
      for (const j of finished) {
        const job = pending.get(j.id!)!;
        let result: TaskResult;
        try {
          result = opts.check(job, j.returnvalue);
        } catch (e) {
          // A refused result is never stored: the job goes back on the queue, up to `attempts` times.
          const n = (rejections.get(job.task.id) ?? 0) + 1;
          rejections.set(job.task.id, n);
          const retried = n < attempts;
          const reason = `result from ${printable(j.processedBy ?? "an unknown worker")} refused: ${(e as Error).message}`;
          opts.onRejected?.(job, reason, retried);
          await j.remove();
          if (retried) await queue.addBulk(bulk([job]));
          else {
            pending.delete(job.task.id);
            opts.onFailed(job, `${reason} (${n} refused result${n === 1 ? "" : "s"})`);
          }
          continue;
        }
        pending.delete(j.id!);
        opts.onDone(result); // stored durably before the job leaves Redis
        await j.remove();
      }
      const failed: BullJob[] = (await queue.getFailed(0, 999)).filter((j): j is BullJob => Boolean(j?.id && pending.has(j.id)));
      for (const j of failed) {
        const job = pending.get(j.id!)!;
        pending.delete(j.id!);
        opts.onFailed(job, `${printable(j.failedReason ?? "unknown error", 1000)} (after ${j.attemptsMade} attempt${j.attemptsMade === 1 ? "" : "s"})`);
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
  /** Give up (done rejects) once Redis has not answered for this long, at the start or later. */
  redisTimeoutSeconds?: number;
  /** Connected to Redis: taking jobs from now on. */
  onReady?: () => void;
  onStart?: (job: Job) => void;
  onDone?: (r: TaskResult) => void;
  onError?: (job: Job | null, e: Error) => void;
  /** A job was refused before it ran (it fails at once, with the reason, for the coordinator to report). */
  onRefused?: (reason: string) => void;
  /** Redis stopped answering; the worker retries for `seconds`. */
  onRedisLost?: (seconds: number) => void;
  onRedisBack?: () => void;
}

export interface QueueWorker {
  name: string;
  /** Resolves with the number of jobs completed here, once the queue is empty; rejects when Redis is lost for good. */
  done: Promise<number>;
  /** Stops within seconds: running simulations are stopped and their jobs released to the queue for another worker. */
  stop: () => Promise<void>;
}

/** How long stopping waits for Redis (to release running jobs) before it drops the connection. */
const STOP_GRACE_MS = 2000;
/** A job that does not fit beside the running ones goes back on the queue for this long. */
const BUSY_RETRY_MS = 5000;

/** Takes jobs from the queue until it has been empty (nothing waiting, delayed or running) for idleSeconds. */
export function startQueueWorker(opts: QueueWorkerOptions): QueueWorker {
  const name = `${hostname()}:${process.pid}`;
  const connection = connectionFor(opts.url);
  const queueName = opts.queueName ?? DEFAULT_QUEUE_NAME;
  const redisTimeoutMs = (opts.redisTimeoutSeconds ?? 30) * 1000;
  const running = new Map<RunningJob, Job>();
  let completed = 0;
  /** Whether `job` fits this machine beside this worker's running simulations (it fits alone: decodeJob checked). */
  const fitsBeside = (job: Job): boolean => {
    if (!running.size) return true;
    const machine = thisMachine();
    const reserved = [...running.values()].reduce((a, j) => a + estimateRun(j.scenario, j.population, j.days).totalBytes, 0);
    return runLimitProblems(job.scenario, job, { ...machine, availableBytes: Math.max(0, machine.availableBytes - reserved) }).length === 0;
  };
  let stopped = false;
  let halt = () => {};
  const halted = new Promise<void>((r) => (halt = r));
  const worker = new Worker<WireJob, TaskResult>(
    queueName,
    async (bull, token, signal) => {
      let job: Job;
      try {
        job = decodeJob(bull.data);
      } catch (e) {
        if (!(e instanceof Refused)) throw e;
        opts.onRefused?.(e.message);
        throw new UnrecoverableError(e.message); // no retry: another try would be refused the same way
      }
      // Back to the queue, for another worker, without using up one of its attempts.
      const release = async (afterMs = 0): Promise<never> => {
        await within(bull.moveToDelayed(Date.now() + afterMs, token), STOP_GRACE_MS, "Redis did not answer").catch(() => undefined);
        throw new DelayedError();
      };
      if (stopped) return release(); // taken while this worker was stopping
      if (!fitsBeside(job)) return release(BUSY_RETRY_MS);
      opts.onStart?.(job);
      const run = runJob(job, name);
      running.set(run, job);
      const aborted = new Promise<"aborted">((r) => signal?.addEventListener("abort", () => r("aborted"), { once: true }));
      try {
        const r = await Promise.race([run.result, aborted]);
        if (r === "aborted") {
          await run.stop();
          return await release();
        }
        completed++;
        opts.onDone?.(r);
        return r;
      } catch (e) {
        if (!(e instanceof DelayedError)) opts.onError?.(job, e instanceof Error ? e : new Error(String(e)));
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
  // The idle and health checks fail at once while Redis is away instead of waiting for it. This
  // client is ours, so it can be dropped whatever state it is in.
  const probe = new IORedis({ ...connection, enableOfflineQueue: false, maxRetriesPerRequest: 1 } as RedisOptions);
  probe.on("error", () => undefined);
  const queue = new Queue(queueName, { connection: probe });
  queue.on("error", () => undefined);

  const loop = async (): Promise<number> => {
    await ready(worker, opts.url, redisTimeoutMs / 1000, halted);
    if (stopped) return completed;
    opts.onReady?.();
    void worker.run().catch(() => undefined); // its errors also arrive as "error" events
    const idleMs = (opts.idleSeconds ?? 5) * 1000;
    let idleSince = Date.now();
    let lostSince: number | null = null;
    while (!stopped) {
      await sleep(500);
      let counts: Record<string, number>;
      try {
        counts = await within(queue.getJobCounts("waiting", "active", "delayed", "prioritized", "waiting-children"), 2000, "no answer");
      } catch {
        if (lostSince === null) {
          lostSince = Date.now();
          opts.onRedisLost?.(redisTimeoutMs / 1000);
        } else if (Date.now() - lostSince >= redisTimeoutMs) {
          throw new Error(`lost Redis at ${redactUrl(opts.url)}: no answer for ${redisTimeoutMs / 1000} s; giving up (its running points go back to the queue when their lock expires)`);
        }
        continue;
      }
      if (lostSince !== null) {
        lostSince = null;
        idleSince = Date.now();
        opts.onRedisBack?.();
      }
      // Active jobs of other workers count as work: if their worker dies, this one must be here to take them over.
      const busy = running.size > 0 || Object.values(counts).some((n) => n > 0);
      if (busy) idleSince = Date.now();
      else if (Date.now() - idleSince >= idleMs) break;
    }
    return completed;
  };

  // Stops in every state within a few seconds: running jobs are released to the queue (with
  // Redis away there is no one to tell: they stall and are taken over once their lock expires),
  // then the connections are dropped, not closed politely, which would wait for Redis.
  let closing: Promise<void> | undefined;
  const shutdown = () => (closing ??= (async () => {
    stopped = true;
    halt();
    void worker.pause(true).catch(() => undefined); // takes no more jobs
    worker.cancelAllJobs("worker stopping");
    const t0 = Date.now();
    while (running.size && Date.now() - t0 < STOP_GRACE_MS + 500) await sleep(50);
    await Promise.all([...running.keys()].map((r) => r.stop().catch(() => undefined)));
    await within(worker.close(true), 1000, "close").catch(() => undefined);
    await within(queue.close(), 500, "close").catch(() => undefined);
    probe.disconnect();
  })());
  const done = loop().finally(shutdown);
  return {
    name,
    done,
    // Not waiting for `done`: it may still be waiting for Redis to answer.
    stop: shutdown,
  };
}
