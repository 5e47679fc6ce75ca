// The dashboard server refuses what it must, with the right status, over plain HTTP: paths out
// of the run folder (.., encoded, absolute, symlinks), oversized bodies, malformed parameters,
// unknown routes and floods; requests addressed to another name (DNS rebinding), from another
// origin or a POST without its header; databases Credence did not write; runs that do not fit
// in memory. Raw requests (node:http) so that nothing normalises the paths or headers.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadScenario } from "../src/scenario/load.js";
import { simulate } from "../src/model/simulate.js";
import { writeRunFolder } from "../src/io/run-folder.js";
import { queryRows } from "../src/io/duckdb.js";
import { startServer, type DashboardServer } from "../src/server/server.js";
import { ClientLimiter } from "../src/server/limits.js";
import { DuckDBInstance } from "@duckdb/node-api";
import { spawnSync } from "node:child_process";
import { loadReportData } from "../src/report/data.js";
import { openExperimentDatabase } from "../src/io/open-db.js";
import { parseExperiment } from "../src/experiment/spec.js";
import { plan } from "../src/experiment/points.js";
import { startSweep } from "../src/experiment/sweep.js";
import { baseInput } from "./helpers.js";

let tmp: string;
let runs: string;
let web: string;
let srv: DashboardServer;
let flood: DashboardServer;
let small: DashboardServer;

/** What the dashboard's pages send with a POST (the server refuses a POST without it). */
const CREDENCE = { "X-Credence": "1" };
const JSON_POST = { "Content-Type": "application/json", ...CREDENCE };
const SECRET = "TOP-SECRET-LINE-OF-A-FILE";

/** Runs SQL on a written run.duckdb, as someone doctoring a run folder would. */
async function doctor(dbFile: string, sql: string): Promise<void> {
  const instance = await DuckDBInstance.create(dbFile);
  const connection = await instance.connect();
  try {
    await connection.run(sql);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

function raw(base: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: init.method ?? "GET", headers: init.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", (e: NodeJS.ErrnoException) => (e.code === "ECONNRESET" || e.code === "EPIPE" ? resolve({ status: -1, headers: {}, body: "" }) : reject(e)));
    if (init.body !== undefined) req.write(init.body);
    req.end();
  });
}

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), "credence-server-"));
  runs = join(tmp, "runs");
  web = join(tmp, "web");
  mkdirSync(runs);
  mkdirSync(web);
  writeFileSync(join(web, "index.html"), "<!doctype html><title>dashboard</title>");
  writeFileSync(join(tmp, "secret.txt"), "outside");
  const result = simulate(loadScenario("scenarios/city-pilot.yaml"), { seed: 3, population: 2000, days: 30 });
  await writeRunFolder(result, join(runs, "pilot"), { version: "test" });
  // A complete run outside the runs folder, reachable only through a symlink.
  await writeRunFolder(result, join(tmp, "outside-run"), { version: "test" });
  symlinkSync(join(tmp, "outside-run"), join(runs, "escape"));
  symlinkSync(join(tmp, "secret.txt"), join(web, "leak.txt"));
  // A run that was killed: it must never be shown as complete.
  mkdirSync(join(runs, "killed"));
  writeFileSync(join(runs, "killed", "manifest.json"), JSON.stringify({ status: "incomplete", reason: "interrupted by SIGKILL", name: "city-pilot", createdAt: "2020-01-01T00:00:00Z" }));
  // Run folders Credence did not write: targets replaced by a view over a file, an extra table.
  writeFileSync(join(tmp, "secret.csv"), `${SECRET}\n`);
  await writeRunFolder(result, join(runs, "forged-view"), { version: "test" });
  await doctor(join(runs, "forged-view", "run.duckdb"), `DROP TABLE targets; CREATE VIEW targets AS
    SELECT column0 AS metric, 0.0 AS target, 0.0 AS tolerance, 0.0 AS simulated, true AS pass, column0 AS source
    FROM read_csv('${join(tmp, "secret.csv")}', header = false, columns = {'column0': 'VARCHAR'})`);
  await writeRunFolder(result, join(runs, "forged-table"), { version: "test" });
  await doctor(join(runs, "forged-table", "run.duckdb"), `CREATE TABLE people (name VARCHAR); INSERT INTO people VALUES ('a real name')`);
  // A run folder whose manifest is a link to another run's.
  mkdirSync(join(runs, "linked-manifest"));
  symlinkSync(join(runs, "pilot", "manifest.json"), join(runs, "linked-manifest", "manifest.json"));
  const common = { runsDir: runs, staticDir: web, scenariosDir: "scenarios", version: "test", port: 0 };
  srv = await startServer(common);
  flood = await startServer({ ...common, limits: { ratePerSecond: 5, burst: 10, concurrent: 4 } });
  // A machine with 300 MiB free, and one more name to answer to.
  small = await startServer({
    ...common,
    allowHosts: ["dashboard.lan"],
    machine: () => ({ totalBytes: 2 ** 30, availableBytes: 300 * 2 ** 20, heapLimitBytes: 4 * 2 ** 30, maxArrayElements: 2 ** 32 }),
  });
});

after(async () => {
  await srv?.close();
  await flood?.close();
  await small?.close();
  rmSync(tmp, { recursive: true, force: true });
});

test("binds to loopback by default", () => {
  const addr = srv.server.address();
  assert.ok(addr && typeof addr === "object");
  assert.equal(addr.address, "127.0.0.1");
});

test("paths that leave the run folder or the bundle are refused with 403", async () => {
  for (const path of [
    "/../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E%2Fsecret.txt",
    "/..%5csecret.txt",
    "/leak.txt", // a symlink out of the bundle
    "/api/runs/..%2F..%2Fetc/overview",
    "/api/runs/%2e%2e/overview",
    "/api/runs/%2Fetc%2Fpasswd/overview",
    "/api/runs/escape/overview", // a symlink out of the run folder
    "/api/runs/escape/citizens/1",
  ]) {
    const r = await raw(srv.url, path);
    assert.equal(r.status, 403, `${path}: ${r.status} ${r.body}`);
    assert.doesNotMatch(r.body, /outside"\s*$|^outside$/, `${path} leaked the file`);
    assert.match(JSON.parse(r.body).error, /outside|symbolic link/);
  }
});

test("the run folder's own runs are served", async () => {
  const r = await raw(srv.url, "/api/runs/pilot/overview");
  assert.equal(r.status, 200, r.body);
  assert.equal(JSON.parse(r.body).population, 2000);
  const index = await raw(srv.url, "/");
  assert.equal(index.status, 200);
  assert.match(index.body, /dashboard/);
});

test("an incomplete run is listed as incomplete and not served", async () => {
  const list = JSON.parse((await raw(srv.url, "/api/runs")).body) as { runs: { id: string; status: string; reason?: string }[] };
  const killed = list.runs.find((r) => r.id === "killed");
  assert.equal(killed?.status, "incomplete");
  assert.match(killed?.reason ?? "", /SIGKILL/);
  assert.equal(list.runs.find((r) => r.id === "pilot")?.status, "complete");
  assert.equal((await raw(srv.url, "/api/runs/killed/overview")).status, 409);
});

test("oversized bodies get 413, non-JSON 415, malformed JSON 400", async () => {
  const big = JSON.stringify({ scenario: "city-pilot", population: 10, days: 1, pad: "x".repeat(20_000) });
  const r = await raw(srv.url, "/api/runs", { method: "POST", headers: { ...JSON_POST, "Content-Length": String(big.length) }, body: big });
  assert.ok(r.status === 413 || r.status === -1, `status ${r.status}`);
  // Without a declared length (chunked), the server counts as it reads.
  const chunked = await raw(srv.url, "/api/runs", { method: "POST", headers: { ...JSON_POST, "Transfer-Encoding": "chunked" }, body: big });
  assert.ok(chunked.status === 413 || chunked.status === -1, `chunked status ${chunked.status}`);
  assert.equal((await raw(srv.url, "/api/runs", { method: "POST", headers: { "Content-Type": "text/plain", ...CREDENCE }, body: "hi" })).status, 415);
  const bad = await raw(srv.url, "/api/runs", { method: "POST", headers: JSON_POST, body: "{nope" });
  assert.equal(bad.status, 400);
  assert.match(JSON.parse(bad.body).error, /JSON/);
});

test("malformed parameters get 400 naming the parameter", async () => {
  const cases: [string, string, RegExp][] = [
    ["GET", "/api/runs/pilot/series?metrics=nope", /"metrics"/],
    ["GET", "/api/runs/pilot/series", /"metrics"/],
    ["GET", "/api/runs/pilot/distribution?by=planet", /"by"/],
    ["GET", "/api/runs/pilot/distribution?day=abc", /"day"/],
    ["GET", "/api/runs/pilot/citizens?limit=-3", /"limit"/],
    ["GET", "/api/runs/pilot/citizens?filter=everyone", /"filter"/],
    ["GET", "/api/runs/pilot/citizens/12x", /"agent"/],
    ["GET", "/api/runs/pilot/regions?metric=drop%20table", /"metrics?"/],
    ["GET", "/api/runs/bad%20name!/overview", /"run"/],
  ];
  for (const [method, path, re] of cases) {
    const r = await raw(srv.url, path, { method });
    assert.equal(r.status, 400, `${path}: ${r.status} ${r.body}`);
    assert.match(JSON.parse(r.body).error, re, path);
  }
  const post = async (body: unknown) => raw(srv.url, "/api/runs", { method: "POST", headers: JSON_POST, body: JSON.stringify(body) });
  for (const [body, re] of [
    [{ scenario: "city-pilot", population: "many", days: 10, seed: 1 }, /"population"/],
    [{ scenario: "city-pilot", population: 100, days: 0, seed: 1 }, /"days"/],
    [{ scenario: "city-pilot", population: 100, days: 10, seed: -1 }, /"seed"/],
    [{ scenario: "../../etc/passwd", population: 100, days: 10, seed: 1 }, /"scenario"/],
  ] as const) {
    const r = await post(body);
    assert.equal(r.status, 400, r.body);
    assert.match(JSON.parse(r.body).error, re);
  }
});

test("unknown routes get 404, wrong methods 405", async () => {
  assert.equal((await raw(srv.url, "/api/nothing")).status, 404);
  assert.equal((await raw(srv.url, "/api/runs/pilot/nothing")).status, 404);
  assert.equal((await raw(srv.url, "/api/runs/ghost/overview")).status, 404);
  assert.equal((await raw(srv.url, "/no-such-file.js")).status, 404);
  assert.equal((await raw(srv.url, "/api/runs/pilot/overview", { method: "DELETE", headers: CREDENCE })).status, 405);
});

test("a flood of requests from one client gets 429 with Retry-After; the rest are answered", async () => {
  const results = await Promise.all(Array.from({ length: 40 }, () => raw(flood.url, "/api/runs/pilot/targets")));
  const limited = results.filter((r) => r.status === 429);
  const ok = results.filter((r) => r.status === 200);
  assert.ok(limited.length >= 20, `only ${limited.length} of 40 were limited`);
  assert.ok(ok.length >= 4, `only ${ok.length} were answered`);
  assert.equal(ok.length + limited.length, 40);
  assert.ok(Number(limited[0].headers["retry-after"]) >= 1);
});

test("the limiter refills over time and bounds requests in flight", () => {
  const l = new ClientLimiter({ ratePerSecond: 2, burst: 2, concurrent: 1 });
  const a = l.admit("x", 0);
  assert.ok("release" in a);
  assert.ok("retryAfter" in l.admit("x", 0), "a second request in flight is refused");
  a.release();
  assert.ok("release" in l.admit("x", 0));
  assert.ok("retryAfter" in l.admit("y", 0) === false, "another client is not affected");
  const later = l.admit("x", 0);
  assert.ok("retryAfter" in later);
});

test("answers match the database", async () => {
  const r = JSON.parse((await raw(srv.url, "/api/runs/pilot/series?metrics=on_black,on_grade_d,chilling")).body) as { rows: Record<string, number>[] };
  const db = await queryRows(join(runs, "pilot", "run.duckdb"), `SELECT day, on_grade_d AS v, chilling FROM daily ORDER BY day`);
  assert.equal(r.rows.length, db.length);
  r.rows.forEach((row, i) => {
    assert.equal(row.on_black, db[i].v);
    assert.equal(row.on_grade_d, db[i].v);
    assert.equal(row.chilling, db[i].chilling);
  });
});

test("a database Credence did not write is refused with a message, never served, and not listed", async () => {
  const view = await raw(srv.url, "/api/runs/forged-view/targets");
  assert.equal(view.status, 422, view.body);
  assert.doesNotMatch(view.body, new RegExp(SECRET), "the file behind the view was served");
  assert.match(JSON.parse(view.body).error, /run\.duckdb: "targets" is a view, not a table Credence writes/);
  for (const what of ["overview", "citizens", "citizens/1"]) {
    const r = await raw(srv.url, `/api/runs/forged-view/${what}`);
    assert.equal(r.status, 422, `${what}: ${r.body}`);
    assert.doesNotMatch(r.body, new RegExp(SECRET));
  }
  const table = await raw(srv.url, "/api/runs/forged-table/overview");
  assert.equal(table.status, 422, table.body);
  assert.match(JSON.parse(table.body).error, /table "people" is not one Credence writes/);
  const listed = (JSON.parse((await raw(srv.url, "/api/runs")).body) as { runs: { id: string }[] }).runs.map((r) => r.id);
  assert.ok(listed.includes("pilot"), "a run Credence wrote is listed");
  assert.ok(!listed.includes("forged-view") && !listed.includes("forged-table"), `listed: ${listed.join(", ")}`);
});

test("symbolic links are neither listed nor served: a linked run folder, a linked manifest", async () => {
  const listed = (JSON.parse((await raw(srv.url, "/api/runs")).body) as { runs: { id: string }[] }).runs.map((r) => r.id);
  assert.ok(!listed.includes("escape"), "a symlinked run folder is listed");
  assert.ok(!listed.includes("linked-manifest"), "a run folder with a symlinked manifest is listed");
  const r = await raw(srv.url, "/api/runs/linked-manifest/overview");
  assert.equal(r.status, 403, r.body);
});

test("a request addressed to another name gets 421; another origin 403; a POST without X-Credence 403", async () => {
  const port = new URL(srv.url).port;
  for (const host of [`evil.example:${port}`, `127.0.0.1.nip.io:${port}`, `127.0.0.1:1`, `localhost:${port}.evil.example`]) {
    const r = await raw(srv.url, "/api/runs", { headers: { Host: host } });
    assert.equal(r.status, 421, `Host ${JSON.stringify(host)}: ${r.status}`);
    assert.doesNotMatch(r.body, /pilot/);
  }
  assert.equal((await raw(srv.url, "/", { headers: { Host: `evil.example:${port}` } })).status, 421, "the static pages too");
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`]) {
    assert.equal((await raw(srv.url, "/api/runs", { headers: { Host: host } })).status, 200, host);
  }
  assert.equal((await raw(srv.url, "/api/runs", { headers: { Host: `dashboard.lan:${port}` } })).status, 421, "an allowed name is allowed only where given");
  const smallPort = new URL(small.url).port;
  assert.equal((await raw(small.url, "/api/runs", { headers: { Host: `dashboard.lan:${smallPort}` } })).status, 200, "--allow-host");

  for (const origin of ["http://evil.example", `http://evil.example:${port}`, "null", `https://127.0.0.1:${port}`, `http://127.0.0.1:1`]) {
    const r = await raw(srv.url, "/api/runs", { headers: { Origin: origin } });
    assert.equal(r.status, 403, `Origin ${origin}: ${r.status}`);
  }
  assert.equal((await raw(srv.url, "/api/runs", { headers: { Origin: `http://localhost:${port}` } })).status, 200);

  const body = JSON.stringify({ scenario: "no-such-scenario", population: 100, days: 10, seed: 1 });
  const without = await raw(srv.url, "/api/runs", { method: "POST", headers: { "Content-Type": "application/json" }, body });
  assert.equal(without.status, 403, without.body);
  assert.match(JSON.parse(without.body).error, /X-Credence: 1/);
  const cors = await raw(srv.url, "/api/runs", { method: "OPTIONS", headers: { Origin: "http://evil.example", "Access-Control-Request-Method": "POST" } });
  assert.equal(cors.status, 403, "a CORS preflight is refused");
  assert.equal(cors.headers["access-control-allow-origin"], undefined);
  const withHeader = await raw(srv.url, "/api/runs", { method: "POST", headers: JSON_POST, body });
  assert.equal(withHeader.status, 400, "with the header, the request reaches validation");
});

test("a query ending in /events counts against the concurrency limit", async () => {
  const strict = await startServer({ runsDir: runs, staticDir: web, scenariosDir: "scenarios", version: "test", port: 0, limits: { ratePerSecond: 1000, burst: 1000, concurrent: 1 } });
  try {
    const results = await Promise.all(Array.from({ length: 20 }, () => raw(strict.url, "/api/runs/pilot/citizens?filter=any&x=/events")));
    const limited = results.filter((r) => r.status === 429).length;
    assert.ok(limited >= 1, `none of 20 concurrent requests was limited: ${results.map((r) => r.status).join(" ")}`);
    assert.equal(results.filter((r) => r.status === 200).length + limited, 20);
  } finally {
    await strict.close();
  }
});

test("a run that does not fit in free memory is refused before it starts", async () => {
  const r = await raw(small.url, "/api/runs", { method: "POST", headers: JSON_POST, body: JSON.stringify({ scenario: "city-pilot", population: 5_000_000, days: 365, seed: 1 }) });
  assert.equal(r.status, 422, r.body);
  assert.match(JSON.parse(r.body).error, /free memory[\s\S]*population: found 5,000,000, expected at most/);
  const jobs = (JSON.parse((await raw(small.url, "/api/runs")).body) as { jobs: unknown[] }).jobs;
  assert.equal(jobs.length, 0, "nothing was started");
});

test("a run started from the page can be cancelled: the worker ends and no run folder is left", async () => {
  const started = await raw(srv.url, "/api/runs", { method: "POST", headers: JSON_POST, body: JSON.stringify({ scenario: "city-pilot", population: 200_000, days: 3650, seed: 9 }) });
  assert.equal(started.status, 202, started.body);
  const job = JSON.parse(started.body) as { id: string; run: string };
  const withoutHeader = await raw(srv.url, `/api/jobs/${job.id}/cancel`, { method: "POST" });
  assert.equal(withoutHeader.status, 403);
  const cancelled = await raw(srv.url, `/api/jobs/${job.id}/cancel`, { method: "POST", headers: CREDENCE });
  assert.equal(cancelled.status, 200, cancelled.body);
  assert.equal(JSON.parse(cancelled.body).status, "cancelled");
  assert.equal(JSON.parse((await raw(srv.url, `/api/jobs/${job.id}`)).body).status, "cancelled");
  assert.equal((await raw(srv.url, `/api/jobs/${job.id}/cancel`, { method: "POST", headers: CREDENCE })).status, 409, "a second cancel");
  await new Promise((res) => setTimeout(res, 300));
  assert.deepEqual(readdirSync(runs).filter((f) => f.startsWith(job.run)), [], "a run folder was left");
  assert.ok(!existsSync(join(runs, job.run)));
  const list = JSON.parse((await raw(srv.url, "/api/runs")).body) as { runs: { id: string; status: string }[] };
  assert.ok(!list.runs.some((r) => r.id === job.run), "the cancelled run is still listed");
  // The slot is free again: another run may start (and is cancelled in turn).
  const again = await raw(srv.url, "/api/runs", { method: "POST", headers: JSON_POST, body: JSON.stringify({ scenario: "city-pilot", population: 200_000, days: 3650, seed: 10 }) });
  assert.equal(again.status, 202, again.body);
  assert.equal((await raw(srv.url, `/api/jobs/${JSON.parse(again.body).id}/cancel`, { method: "POST", headers: CREDENCE })).status, 200);
});

test("report, explain and experiment.duckdb refuse a database Credence did not write", async () => {
  await assert.doesNotReject(loadReportData(join(runs, "pilot")));
  const explain = spawnSync(process.execPath, ["dist/src/cli/main.js", "explain", join(runs, "forged-table"), "--agent", "1"], { encoding: "utf8" });
  assert.notEqual(explain.status, 0, explain.stdout);
  assert.match(explain.stderr, /table "people" is not one Credence writes/);
  await assert.rejects(loadReportData(join(runs, "forged-view")), /run\.duckdb: "targets" is a view, not a table Credence writes/);

  writeFileSync(join(tmp, "base.yaml"), JSON.stringify(baseInput()));
  const sweep = plan(parseExperiment({
    name: "open-db", scenario: "base.yaml", population: 300, days: 3, replicates: 1,
    parameters: { "observation.cameras.falseMatchRate": [0, 0.01], "appeals.enabled": [false, true] }, metrics: ["misattributed_share"],
  }, "experiment", tmp));
  const out = join(tmp, "experiment");
  const { manifest } = await startSweep(sweep, { out, version: "test", workers: 1 }).done;
  const db = await openExperimentDatabase(out, manifest);
  assert.equal((await db.query("SELECT count(*) AS n FROM runs"))[0].n, 4);
  db.close();
  await doctor(join(out, "experiment.duckdb"), "ALTER TABLE summary RENAME TO summary_; CREATE VIEW summary AS SELECT * FROM summary_");
  await assert.rejects(openExperimentDatabase(out, manifest), /experiment\.duckdb: "summary" is a view, not a table Credence writes/);
});
