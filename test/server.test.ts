// The dashboard server refuses what it must, with the right status, over plain HTTP: paths out
// of the run folder (.., encoded, absolute, symlinks), oversized bodies, malformed parameters,
// unknown routes and floods. Raw requests (node:http) so that nothing normalises the paths.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadScenario } from "../src/scenario/load.js";
import { simulate } from "../src/engine/simulate.js";
import { writeRunFolder } from "../src/io/run-folder.js";
import { queryRows } from "../src/io/duckdb.js";
import { startServer, type DashboardServer } from "../src/server/server.js";
import { ClientLimiter } from "../src/server/limits.js";

let tmp: string;
let runs: string;
let web: string;
let srv: DashboardServer;
let flood: DashboardServer;

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
  const common = { runsDir: runs, staticDir: web, scenariosDir: "scenarios", version: "test", port: 0 };
  srv = await startServer(common);
  flood = await startServer({ ...common, limits: { ratePerSecond: 5, burst: 10, concurrent: 4 } });
});

after(async () => {
  await srv?.close();
  await flood?.close();
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
    assert.match(JSON.parse(r.body).error, /outside/);
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
  const r = await raw(srv.url, "/api/runs", { method: "POST", headers: { "Content-Type": "application/json", "Content-Length": String(big.length) }, body: big });
  assert.ok(r.status === 413 || r.status === -1, `status ${r.status}`);
  // Without a declared length (chunked), the server counts as it reads.
  const chunked = await raw(srv.url, "/api/runs", { method: "POST", headers: { "Content-Type": "application/json", "Transfer-Encoding": "chunked" }, body: big });
  assert.ok(chunked.status === 413 || chunked.status === -1, `chunked status ${chunked.status}`);
  assert.equal((await raw(srv.url, "/api/runs", { method: "POST", headers: { "Content-Type": "text/plain" }, body: "hi" })).status, 415);
  const bad = await raw(srv.url, "/api/runs", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{nope" });
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
  const post = async (body: unknown) => raw(srv.url, "/api/runs", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
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
  assert.equal((await raw(srv.url, "/api/runs/pilot/overview", { method: "DELETE" })).status, 405);
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
