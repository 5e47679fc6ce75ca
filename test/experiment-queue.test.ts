// The distributed sweep, for real: a redis-server on a free loopback port, a coordinator
// (`credence sweep --queue`) and two worker processes (`credence worker --queue`). One worker
// is killed with SIGKILL in the middle of a point; BullMQ's stalled-job check hands its point
// to the other worker, and every point-replicate must end up in the results exactly once,
// with the same metrics as the same experiment run on local cores. Also: a sweep killed
// mid-way resumes with exactly the unfinished point-replicates.
//
// And the queue as an attacker would use it (issue 32): a rogue worker's results (out of range,
// an unknown metric, a forged point index) are refused and the sweep still completes, and a
// resume skips such lines; a gzip bomb, an invalid scenario and a population over the machine's
// limit are refused by the worker, which goes on; a worker whose Redis dies leaves by itself,
// and SIGTERM stops a worker within seconds whether it is idle, running a point (released to
// the queue) or waiting for Redis. Redis there needs a password, which is never printed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { Queue, Worker, type Job as BullJob } from "bullmq";
import { queryRows } from "../src/io/duckdb.js";
import { parseScenario } from "../src/scenario/load.js";
import { baseInput } from "./helpers.js";

const here = dirname(fileURLToPath(import.meta.url)); // dist/test
const CLI = resolve(here, "../src/cli/main.js");
const REDIS = "/usr/bin/redis-server";

const tmp = mkdtempSync(join(tmpdir(), "credence-queue-"));
const children: ChildProcess[] = [];
process.on("exit", () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  rmSync(tmp, { recursive: true, force: true });
});

// Points that take about a second each, so a worker can be killed in the middle of one.
writeFileSync(join(tmp, "base.yaml"), JSON.stringify(baseInput()));
const EXPERIMENT = join(tmp, "queue-test.yaml");
writeFileSync(EXPERIMENT, `
name: queue-test
scenario: base.yaml
population: 12000
days: 90
replicates: 2
seed: 5
parameters:
  observation.cameras.falseMatchRate: [0, 0.01, 0.03]
metrics: [wrongful_share.low-score, misattributed_share, listed_share.low-score]
`);

const freePort = () => new Promise<number>((res, rej) => {
  const s = createServer();
  s.on("error", rej);
  s.listen(0, "127.0.0.1", () => {
    const port = (s.address() as { port: number }).port;
    s.close(() => res(port));
  });
});

interface Proc { child: ChildProcess; out: () => string; err: () => string; exit: Promise<number | null> }

function start(args: string[]): Proc {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: tmp, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "", err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  const exit = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
  return { child, out: () => out, err: () => err, exit };
}

async function until(what: string, cond: () => boolean, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const results = (dir: string) => readFileSync(join(dir, "results.jsonl"), "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as { id: string; point: number; replicate: number; by: string });
const metricsOf = (rows: Record<string, unknown>[]) => rows.map(({ seconds: _s, worker: _w, ...r }) => r);

test("Redis queue: two worker processes, one killed mid-point; every point-replicate exactly once, identical to the local run", { timeout: 240_000 }, async (t) => {
  if (!existsSync(REDIS)) {
    t.skip(`${REDIS} is not installed (apt-get install redis-server); the distributed sweep was not tested`);
    return;
  }
  const port = await freePort();
  const redis = spawn(REDIS, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmp], { stdio: "ignore" });
  children.push(redis);
  try {
    const url = `redis://127.0.0.1:${port}`;
    await until("redis-server", () => spawnSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8" }).stdout?.trim() === "PONG" || redis.exitCode !== null, 10_000).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300)); // redis-cli may be missing: give the server a moment anyway

    const fast = ["--workers", "1", "--idle", "2", "--lock-duration", "2000", "--stalled-interval", "1000"];
    const queued = join(tmp, "queued");
    const coordinator = start(["sweep", EXPERIMENT, "--queue", url, "--out", queued, "--json"]);
    const a = start(["worker", "--queue", url, ...fast]);
    const b = start(["worker", "--queue", url, ...fast]);
    // Kill worker a in the middle of its first point.
    await until("worker a to start a point", () => /^start point/m.test(a.out()));
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!/^done/m.test(a.out()), "the point finished before the kill; make the points longer");
    a.child.kill("SIGKILL");
    assert.equal(await a.exit, null); // killed by the signal

    const code = await coordinator.exit;
    assert.equal(code, 0, coordinator.err());
    assert.equal(await b.exit, 0, b.err());
    const manifest = JSON.parse(coordinator.out()) as { status: string; finished: number; tasks: number; failed: unknown[] };
    assert.equal(manifest.status, "complete");
    assert.deepEqual([manifest.finished, manifest.tasks, manifest.failed.length], [6, 6, 0]);

    // Exactly once: six results, one per point-replicate, the killed point finished by worker b.
    const rs = results(queued);
    assert.equal(rs.length, 6);
    assert.equal(new Set(rs.map((r) => `${r.point}/${r.replicate}`)).size, 6);
    assert.equal(new Set(rs.map((r) => r.id)).size, 6);
    const doneByB = (b.out().match(/^done/gm) ?? []).length;
    assert.ok(doneByB >= 5, `worker b finished ${doneByB} points:\n${b.out()}`);
    const runs = await queryRows(join(queued, "experiment.duckdb"), "SELECT * FROM runs ORDER BY point, replicate");
    assert.equal(runs.length, 6);

    // The same experiment on local cores gives the same numbers.
    const local = join(tmp, "local");
    const l = spawnSync(process.execPath, [CLI, "sweep", EXPERIMENT, "--workers", "2", "--out", local, "--quiet"], { cwd: tmp, encoding: "utf8", timeout: 180_000 });
    assert.equal(l.status, 0, l.stderr);
    const localRuns = await queryRows(join(local, "experiment.duckdb"), "SELECT * FROM runs ORDER BY point, replicate");
    assert.deepEqual(metricsOf(runs), metricsOf(localRuns));
    assert.ok(localRuns.some((r) => Number(r.misattributed_share) > 0), "the metrics compared are not all zero");
  } finally {
    redis.kill("SIGTERM");
    await new Promise((r) => (redis.exitCode !== null ? r(null) : redis.on("exit", r)));
  }
});

test("a sweep killed mid-way resumes with exactly the unfinished point-replicates", { timeout: 240_000 }, async () => {
  const out = join(tmp, "killed");
  const first = start(["sweep", EXPERIMENT, "--workers", "2", "--out", out, "--quiet"]);
  await until("two finished point-replicates", () => existsSync(join(out, "results.jsonl")) && results(out).length >= 2);
  first.child.kill("SIGKILL");
  await first.exit;
  const kept = results(out).length;
  assert.ok(kept >= 2 && kept < 6, `kept ${kept}`);
  assert.equal(JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")).status, "incomplete");

  const second = spawnSync(process.execPath, [CLI, "sweep", EXPERIMENT, "--workers", "2", "--out", out, "--json"], { cwd: tmp, encoding: "utf8", timeout: 180_000 });
  assert.equal(second.status, 0, second.stderr);
  const m = JSON.parse(second.stdout) as { status: string; ranThisTime: number; finished: number };
  assert.equal(m.status, "complete");
  assert.equal(m.ranThisTime, 6 - kept);
  assert.equal(m.finished, 6);
  assert.equal(results(out).length, 6);
});

// ---------------------------------------------------------------------------------------------
// Hostile messages both ways, and workers that must stop.

const PASSWORD = "s3cret-pass-1729";

interface Redis { port: number; url: string; kill: () => Promise<void> }

/** A redis-server on a free loopback port that requires PASSWORD. */
async function startRedis(): Promise<Redis> {
  const port = await freePort();
  const redis = spawn(REDIS, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmp, "--requirepass", PASSWORD], { stdio: "ignore" });
  children.push(redis);
  const exited = new Promise((r) => (redis.exitCode !== null ? r(null) : redis.on("exit", r)));
  await until("redis-server", () => spawnSync("redis-cli", ["-p", String(port), "-a", PASSWORD, "--no-auth-warning", "ping"], { encoding: "utf8" }).stdout?.trim() === "PONG", 10_000);
  return { port, url: `redis://:${PASSWORD}@127.0.0.1:${port}`, kill: async () => { redis.kill("SIGKILL"); await exited; } };
}

const connection = (r: Redis) => ({ host: "127.0.0.1", port: r.port, password: PASSWORD, maxRetriesPerRequest: null });

/** A worker process on `queueName`, started and connected. */
async function startWorker(r: Redis, queueName: string, extra: string[] = []): Promise<Proc> {
  const w = start(["worker", "--queue", r.url, "--queue-name", queueName, "--workers", "1", "--idle", "60", ...extra]);
  await until("the worker to start", () => /taking points/.test(w.out()) || w.child.exitCode !== null, 15_000);
  assert.match(w.out(), /taking points/, w.err());
  return w;
}

/** Milliseconds until `p` exits, or Infinity after `ms` (it is then killed). */
async function exitWithin(p: Proc, ms: number): Promise<{ code: number | null; ms: number }> {
  const t0 = Date.now();
  const code = await Promise.race([p.exit, new Promise<"late">((r) => setTimeout(() => r("late"), ms))]);
  if (code === "late") {
    p.child.kill("SIGKILL");
    await p.exit;
    return { code: null, ms: Infinity };
  }
  return { code, ms: Date.now() - t0 };
}

const noPassword = (p: Proc) => assert.ok(!(p.out() + p.err()).includes(PASSWORD), "the Redis password was printed");

const SCENARIO = parseScenario(baseInput(), "base");
const METRICS = ["wrongful_share.low-score", "misattributed_share", "chilling"];
let jobNumber = 0;
/** A job as the coordinator would queue it, with `scenario` as the packed scenario text. */
const wireJob = (over: { population?: number; days?: number; scenario?: string } = {}) => ({
  task: { id: (++jobNumber).toString(16).padStart(20, "0"), point: 0, replicate: 0, seed: 1 },
  scenario: over.scenario ?? gzipSync(JSON.stringify(SCENARIO)).toString("base64"),
  population: over.population ?? 2000,
  days: over.days ?? 30,
  metrics: METRICS,
});

async function settled(queue: Queue, id: string, ms: number): Promise<BullJob> {
  const t0 = Date.now();
  for (;;) {
    const state = await queue.getJobState(id);
    if (state === "failed" || state === "completed") return (await queue.getJob(id))!;
    if (Date.now() - t0 > ms) throw new Error(`job ${id} is still ${state} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Peak resident memory of a process (Linux), MiB. */
const peakMiB = (pid: number) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

const SMALL = join(tmp, "small.yaml");
writeFileSync(SMALL, `
name: small
scenario: base.yaml
population: 2000
days: 30
replicates: 2
seed: 3
parameters:
  observation.cameras.falseMatchRate: [0, 0.02, 0.04]
metrics: [${METRICS.join(", ")}]
`);

test("a rogue worker's results are refused and never stored; the sweep completes, and a resume skips forged lines", { timeout: 120_000, skip: !existsSync(REDIS) && "redis-server is not installed" }, async () => {
  const redis = await startRedis();
  const rogueWorker = new Worker("rogue", undefined, { connection: connection(redis), autorun: false });
  try {
    const out = join(tmp, "rogue");
    const coordinator = start(["sweep", SMALL, "--queue", redis.url, "--queue-name", "rogue", "--out", out, "--json"]);
    // The rogue takes three jobs and returns a forged result for each.
    const forgeries: ((r: Record<string, unknown>, m: Record<string, number>) => void)[] = [
      (_r, m) => (m.chilling = 12345),
      (_r, m) => (m.made_up_metric = 0.5),
      (r) => (r.point = 99),
    ];
    for (const forge of forgeries) {
      let job: BullJob | undefined;
      const t0 = Date.now();
      while (!(job = await rogueWorker.getNextJob("rogue-token"))) {
        if (Date.now() - t0 > 20_000) throw new Error("no job for the rogue");
        await new Promise((r) => setTimeout(r, 100));
      }
      const d = job.data as ReturnType<typeof wireJob>;
      const metrics = Object.fromEntries(d.metrics.map((k) => [k, 0.25]));
      const result: Record<string, unknown> = { id: d.task.id, point: d.task.point, replicate: d.task.replicate, seed: d.task.seed, metrics, seconds: 1, by: "rogue" };
      forge(result, metrics);
      await job.moveToCompleted(result, "rogue-token", false);
    }
    // And a job of its own, finished with a result that names a real point: ignored, and said so.
    const rogueQueue = new Queue("rogue", { connection: connection(redis) });
    await rogueQueue.add("forged", {}, { jobId: "forged-job", lifo: true });
    await rogueQueue.close();
    const own = await rogueWorker.getNextJob("rogue-token");
    assert.equal(own?.id, "forged-job");
    await own!.moveToCompleted({ id: "x", point: 0, replicate: 0, seed: 3, metrics: {}, seconds: 1, by: "rogue" }, "rogue-token", false);
    await rogueWorker.close();
    const honest = await startWorker(redis, "rogue", ["--idle", "2"]);

    assert.equal(await coordinator.exit, 0, coordinator.err());
    assert.equal(await honest.exit, 0, honest.err());
    const m = JSON.parse(coordinator.out()) as { status: string; finished: number; tasks: number; failed: unknown[] };
    assert.deepEqual([m.status, m.finished, m.tasks, m.failed.length], ["complete", 6, 6, 0]);
    const refused = coordinator.err().match(/refused: .*; not stored, queued again/g) ?? [];
    assert.equal(refused.length, 3, coordinator.err());
    assert.match(coordinator.err(), /chilling: 12345 is outside its possible range/);
    assert.match(coordinator.err(), /unknown metric "made_up_metric"/);
    assert.match(coordinator.err(), /claims point 99/);
    assert.match(coordinator.err(), /ignored a finished job "forged-job" on the queue: not a point-replicate of this sweep/);
    const rs = results(out);
    assert.equal(rs.length, 6);
    assert.ok(rs.every((r) => r.by !== "rogue" && r.point < 3), "a rogue result was stored");
    const runs = await queryRows(join(out, "experiment.duckdb"), "SELECT max(chilling) AS c, count(*) AS n FROM runs");
    assert.ok(Number(runs[0].c) <= 1, `chilling ${runs[0].c} stored`);
    noPassword(coordinator);
    noPassword(honest);

    // Resume from a results.jsonl with forged lines: each is skipped with a warning, its task runs again.
    const lines = readFileSync(join(out, "results.jsonl"), "utf8").trim().split("\n");
    const forged = (i: number, f: (r: Record<string, unknown>) => void) => {
      const r = JSON.parse(lines[i]) as Record<string, unknown>;
      f(r);
      return JSON.stringify(r);
    };
    writeFileSync(join(out, "results.jsonl"), [
      forged(0, (r) => (r.point = 99)),
      forged(1, (r) => ((r.metrics as Record<string, number>).chilling = 12345)),
      "{not json",
      ...lines.slice(2),
      lines[2],
    ].join("\n") + "\n");
    const again = spawnSync(process.execPath, [CLI, "sweep", SMALL, "--workers", "1", "--out", out, "--json"], { cwd: tmp, encoding: "utf8", timeout: 60_000 });
    assert.equal(again.status, 0, again.stderr);
    const m2 = JSON.parse(again.stdout) as { status: string; ranThisTime: number; finished: number };
    assert.deepEqual([m2.status, m2.ranThisTime, m2.finished], ["complete", 2, 6]);
    const warnings = again.stderr.match(/warning: .*results\.jsonl line \d+ skipped/g) ?? [];
    assert.equal(warnings.length, 4, again.stderr);
    assert.match(again.stderr, /line 1 skipped \(claims point 99/);
    assert.match(again.stderr, /line 3 skipped \(not a JSON line\)/);
    assert.match(again.stderr, /a second result for point/);
    const after = await queryRows(join(out, "experiment.duckdb"), "SELECT max(chilling) AS c, max(point) AS p, count(*) AS n FROM runs");
    assert.deepEqual([Number(after[0].n), Number(after[0].p)], [6, 2]);
    assert.ok(Number(after[0].c) <= 1);
  } finally {
    await rogueWorker.close(true).catch(() => undefined);
    await redis.kill();
  }
});

test("a worker refuses a gzip bomb, an invalid scenario and a population over the limit, quickly, and goes on", { timeout: 60_000, skip: !existsSync(REDIS) && "redis-server is not installed" }, async () => {
  const redis = await startRedis();
  const queue = new Queue("bombs", { connection: connection(redis) });
  try {
    const worker = await startWorker(redis, "bombs");
    const before = peakMiB(worker.child.pid!);
    // 256 MiB of zeros in 256 KB: 16 gzip members of 16 MiB each (gunzip reads them all).
    const member = gzipSync(Buffer.alloc(16 * 2 ** 20));
    const bomb = Buffer.concat(Array.from({ length: 16 }, () => member)).toString("base64");
    const cases = [
      { data: wireJob({ scenario: bomb }), reason: /unpacks to more than/ },
      { data: wireJob({ scenario: gzipSync(JSON.stringify({ ...SCENARIO, days: "forever" })).toString("base64") }), reason: /scenario is not valid:\n\s+days: found "forever"/ },
      { data: wireJob({ population: 2_000_000_000 }), reason: /too large for this machine:\n\s+population: found 2,000,000,000/ },
    ];
    for (const c of cases) {
      const t0 = Date.now();
      const job = await queue.add("hostile", c.data, { jobId: c.data.task.id, attempts: 1 });
      const done = await settled(queue, job.id!, 5000);
      assert.equal(await done.getState(), "failed");
      assert.match(done.failedReason, c.reason);
      assert.match(done.failedReason, /^job refused: /);
      assert.ok(Date.now() - t0 < 3000, `refused after ${Date.now() - t0} ms`);
      assert.equal(worker.child.exitCode, null, "the worker died");
    }
    const grown = peakMiB(worker.child.pid!) - before;
    assert.ok(grown < 64, `the worker's peak memory grew by ${grown.toFixed(0)} MiB`);
    assert.match(worker.err(), /job refused: its scenario unpacks to more than/);

    // It still runs a good job.
    const good = wireJob();
    await queue.add("good", good, { jobId: good.task.id, attempts: 1 });
    const ok = await settled(queue, good.task.id, 30_000);
    assert.equal(await ok.getState(), "completed", ok.failedReason);
    worker.child.kill("SIGTERM");
    await worker.exit;
    noPassword(worker);
  } finally {
    await queue.close();
    await redis.kill();
  }
});

test("a worker whose Redis dies leaves by itself, non-zero, within --redis-timeout", { timeout: 60_000, skip: !existsSync(REDIS) && "redis-server is not installed" }, async () => {
  const redis = await startRedis();
  const worker = await startWorker(redis, "lost", ["--redis-timeout", "2"]);
  await redis.kill();
  const { code, ms } = await exitWithin(worker, 8000);
  assert.equal(code, 1, `exit ${code} after ${ms} ms\n${worker.err()}`);
  assert.ok(ms >= 1500, `left after ${ms} ms, before the timeout`);
  assert.match(worker.err(), /is not answering; retrying for up to 2 s/);
  assert.match(worker.err(), /lost Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: no answer for 2 s; giving up/);
  noPassword(worker);
});

test("SIGTERM stops a worker within seconds: idle, waiting for Redis, and running a point (released to the queue)", { timeout: 90_000, skip: !existsSync(REDIS) && "redis-server is not installed" }, async () => {
  const redis = await startRedis();
  const queue = new Queue("stop", { connection: connection(redis) });
  try {
    const idle = await startWorker(redis, "stop");
    idle.child.kill("SIGTERM");
    const a = await exitWithin(idle, 5000);
    assert.equal(a.code, 143, `idle worker: exit ${a.code}\n${idle.err()}`);

    // A point of a minute or more: SIGTERM in its middle hands it back to the queue at once.
    const busy = await startWorker(redis, "stop");
    const long = wireJob({ population: 50_000, days: 3000 });
    await queue.add("long", long, { jobId: long.task.id, attempts: 3 });
    await until("the point to start", () => /^start point/m.test(busy.out()), 15_000);
    await new Promise((r) => setTimeout(r, 500));
    busy.child.kill("SIGTERM");
    const b = await exitWithin(busy, 5000);
    assert.equal(b.code, 143, `busy worker: exit ${b.code}\n${busy.err()}`);
    const state = await (await queue.getJob(long.task.id))!.getState();
    assert.ok(["waiting", "delayed", "prioritized"].includes(state), `the stopped point is ${state}, not back on the queue`);
    assert.equal((await queue.getJob(long.task.id))!.attemptsMade, 0, "releasing the point used up one of its attempts");
    await queue.obliterate({ force: true });

    // Waiting for a Redis that is gone (with a long --redis-timeout): SIGTERM still ends it.
    const waiting = await startWorker(redis, "stop", ["--redis-timeout", "600"]);
    await queue.close();
    await redis.kill();
    await until("the worker to notice", () => /not answering/.test(waiting.err()), 5000);
    waiting.child.kill("SIGTERM");
    const c = await exitWithin(waiting, 5000);
    assert.equal(c.code, 143, `worker without Redis: exit ${c.code}\n${waiting.err()}`);
    for (const w of [idle, busy, waiting]) noPassword(w);
  } finally {
    await queue.close().catch(() => undefined);
    await redis.kill();
  }
});
