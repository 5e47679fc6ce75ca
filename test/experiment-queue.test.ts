// The distributed sweep, for real: a redis-server on a free loopback port, a coordinator
// (`credence sweep --queue`) and two worker processes (`credence worker --queue`). One worker
// is killed with SIGKILL in the middle of a point; BullMQ's stalled-job check hands its point
// to the other worker, and every point-replicate must end up in the results exactly once,
// with the same metrics as the same experiment run on local cores. Also: a sweep killed
// mid-way resumes with exactly the unfinished point-replicates.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { queryRows } from "../src/io/duckdb.js";
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
