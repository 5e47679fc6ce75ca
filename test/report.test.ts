// Reports: one self-contained HTML file (no network), with every target metric and every
// parameter path, an ODD description with all its sections, numbers equal to DuckDB queries on
// the run; and a PDF of more than one page when Chromium is present.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadScenario } from "../src/scenario/load.js";
import { simulate } from "../src/model/simulate.js";
import { writeRunFolder } from "../src/io/run-folder.js";
import { queryRows } from "../src/io/duckdb.js";
import { loadReportData } from "../src/report/data.js";
import { CHROMIUM, htmlToPdf, writeReport } from "../src/report/report.js";
import { SYNTHETIC_CAPTION } from "../src/io/synthetic.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const work = mkdtempSync(join(tmpdir(), "credence-report-"));
const scenarioPath = join(root, "scenarios/china-2018.yaml");
const runDir = join(work, "run");
let html = "";

test.before(async () => {
  const result = simulate(loadScenario(scenarioPath), { seed: 5, population: 8_000, days: 60 });
  await writeRunFolder(result, runDir, { version: "test", scenarioPath });
  html = await writeReport(runDir, join(work, "report.html"), "Credence test");
});
test.after(() => rmSync(work, { recursive: true, force: true }));

test("the HTML report is self-contained: no external URL, inline SVG charts, written atomically", () => {
  assert.equal(readFileSync(join(work, "report.html"), "utf8"), html);
  assert.deepEqual(readdirSync(work).filter((f) => f.includes(".tmp-")), []);
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?\s*(https?:)?\/\//i);
  assert.doesNotMatch(html, /<script|<link|@import|url\(/i);
  assert.ok((html.match(/<svg/g) ?? []).length >= 5, "charts are inline SVG");
  const captions = html.match(/<figcaption>.*?<\/figcaption>/gs) ?? [];
  assert.ok(captions.length >= 5);
  for (const c of captions) assert.ok(c.includes(SYNTHETIC_CAPTION), `a chart's caption does not say the population is synthetic: ${c}`);
});

test("the report names every target metric and every parameter path, with sources from the scenario file", async () => {
  const data = await loadReportData(runDir);
  const manifest = data.manifest;
  assert.ok(manifest.summary.targets.length > 0);
  for (const t of manifest.summary.targets) assert.ok(html.includes(`<code>${t.metric}</code>`), `target ${t.metric} missing`);
  assert.ok(data.parameters.length > 300);
  for (const p of data.parameters) assert.ok(html.includes(`<code>${p.path}</code>`), `parameter ${p.path} missing`);
  assert.equal(data.sourcesNote, null);
  const source = (path: string) => data.parameters.find((p) => p.path === path)?.source?.text ?? "";
  assert.match(source("observation.cameras.trueMatchRate"), /NIST FRVT/);
  assert.match(source("lists[0].durationDays"), /two years from 2017-05-01/);
  assert.equal(data.parameters.find((p) => p.path === "shaming.dropOnListing")?.setInFile, false);
});

test("the ODD description has all its sections and the day's phases in the engine's order", () => {
  for (const s of ["Purpose and patterns", "Entities, state variables and scales", "Process overview and scheduling", "Design concepts", "Initialization", "Input data", "Submodels"]) {
    assert.ok(html.includes(s), `ODD section ${s} missing`);
  }
  for (const c of ["Basic principles", "Emergence", "Adaptation", "Objectives", "Learning", "Prediction", "Sensing", "Interaction", "Stochasticity", "Collectives", "Observation"]) {
    assert.ok(html.includes(`<li>${c}:`), `design concept ${c} missing`);
  }
  const order = ["watch:", "behaviour:", "observation:", "points:", "association:", "decay:", "pull:", "lists:", "appeals:", "consequences:", "shaming:", "firms:", "collect:"].map((p) => html.indexOf(`<li>${p}`));
  assert.ok(order.every((x, i) => x > 0 && (i === 0 || x > order[i - 1])), `phase order ${order}`);
});

test("the numbers in the report equal DuckDB queries on the run", async () => {
  const db = join(runDir, "run.duckdb");
  const int = (n: unknown) => Math.round(Number(n)).toLocaleString("en-US");
  const [end] = await queryRows(db, `SELECT * FROM daily WHERE day = (SELECT max(day) FROM daily)`);
  for (const id of ["dishonest_debtors", "low_score", "trustworthy"]) {
    const row = new RegExp(`<td>On ${id.replace(/_/g, "-")} at the end</td><td>([\\d,]+)</td>`).exec(html);
    assert.equal(row?.[1], int(end[`on_${id}`]), `on_${id}`);
  }
  const [tot] = await queryRows(db, `SELECT sum(ties_dropped) AS t, sum(observations_misattributed) AS m FROM daily`);
  assert.match(html, new RegExp(`<td>Friendships dropped</td><td>${int(tot.t)}</td>`));
  assert.match(html, new RegExp(`<td>Observations charged to the wrong person</td><td>${int(tot.m)}</td>`));
  const blocked = await queryRows(db, `SELECT sum(value) AS v FROM (UNPIVOT daily ON COLUMNS('^blocked_') INTO NAME k VALUE value)`);
  assert.match(html, new RegExp(`<td>Purchases and applications blocked</td><td>${int(blocked[0].v)}</td>`));
});

test("the PDF starts with %PDF and has more than one page", { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}` }, async () => {
  const pdf = join(work, "report.pdf");
  await htmlToPdf(html, pdf);
  const bytes = readFileSync(pdf);
  assert.equal(bytes.subarray(0, 5).toString("latin1"), "%PDF-");
  const pages = Number(/\/Type\s*\/Pages[^>]*?\/Count\s+(\d+)/s.exec(bytes.toString("latin1"))?.[1] ?? (bytes.toString("latin1").match(/\/Type\s*\/Page[^s]/g) ?? []).length);
  assert.ok(pages > 1, `${pages} pages`);
});
