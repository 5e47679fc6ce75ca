// `npm run bench:dashboard -- --run <run folder>`: how fast the dashboard answers for a big run.
// Starts the server over the run's parent folder, opens each page of that run in Debian's
// Chromium and times it until its tables and charts are drawn, then times each API query.
// The target: every page of a 10-million-citizen run in under a second.
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startServer } from "../src/server/server.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const k = process.argv.indexOf("--run");
if (k < 0) {
  console.error("usage: npm run bench:dashboard -- --run <run folder>   (e.g. a 10 M-citizen run of china-2018)");
  process.exit(2);
}
const runDir = resolve(process.argv[k + 1]);
const run = basename(runDir);
const srv = await startServer({ runsDir: dirname(runDir), staticDir: join(root, "dist", "web"), scenariosDir: join(root, "scenarios"), version: "bench", port: 0 });
const browser = await chromium.launch({
  executablePath: process.env.CREDENCE_CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
  const api = (path: string) => fetch(`${srv.url}api/runs/${run}/${path}`);
  const agent = ((await (await api("citizens?filter=stuck&limit=1")).json()) as { rows: { agent: number }[] }).rows[0]?.agent ?? 0;
  const pages: [string, string, string[]][] = [
    ["runs", "", ["#runs tbody tr"]],
    ["run (first open of run.duckdb)", `#/run/${run}`, ["#targets tbody tr", "[data-chart^=Regions] svg"]],
    ["run (database open)", `#/run/${run}`, ["#targets tbody tr", "[data-chart^=Regions] svg"]],
    ["citizen", `#/run/${run}/citizen/${agent}`, ["#timeline li"]],
    ["compare (the run with itself)", `#/compare/${run}/${run}`, ["#differences tbody tr"]],
  ];
  console.log(`dashboard over ${runDir}`);
  for (const [name, hash, selectors] of pages) {
    await page.goto("about:blank");
    const t0 = performance.now();
    await page.goto(srv.url + hash);
    for (const s of selectors) await page.locator(s).first().waitFor();
    if (hash) await page.locator("[data-chart] svg").last().waitFor();
    console.log(`  page ${name.padEnd(34)} ${(performance.now() - t0).toFixed(0).padStart(6)} ms`);
  }
  for (const path of ["overview", "series?metrics=on_low_score,blocked_flights,chilling,ties_dropped", "distribution?by=region", "regions?metric=on_black", "targets", "citizens?filter=wrongful", `citizens/${agent}`]) {
    const t0 = performance.now();
    const r = await api(path);
    await r.text();
    console.log(`  GET ${path.slice(0, 36).padEnd(38)} ${r.status} ${(performance.now() - t0).toFixed(1).padStart(7)} ms`);
  }
} finally {
  await browser.close();
  await srv.close();
}
