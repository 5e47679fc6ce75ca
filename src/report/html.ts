// The report as one self-contained HTML page: inline CSS, inline SVG charts, no script, no
// external resource, laid out for the screen and for A4 print (the PDF is this page printed).
import { barChart, lineChart, type Bar, type SeriesPoint } from "./charts.js";
import { SYNTHETIC_CAPTION } from "../io/synthetic.js";
import { col, type DailyRow, type ReportData } from "./data.js";
import { oddSections } from "./odd.js";
import { chartedLists } from "../metrics/list-metrics.js";

const esc = (s: unknown): string =>
  String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const int = (n: number) => Math.round(n).toLocaleString("en-US");
// "—" where a value is undefined (an empty denominator): never 0.
const pct = (x: number | null, d = 2) => (x === null || !Number.isFinite(x) ? "—" : `${(x * 100).toFixed(d)}%`);
const sig = (x: number | null) => (x === null || !Number.isFinite(x) ? "—" : Math.abs(x) >= 1000 ? int(x) : Number(x.toPrecision(4)).toString());
const value = (v: unknown): string => (Array.isArray(v) ? (v.length ? v.join(", ") : "[]") : typeof v === "object" && v !== null ? JSON.stringify(v) : String(v));
const date = (r: DailyRow) => new Date(`${r.date}T00:00:00Z`);

function table(head: string[], rows: string[][], cls = ""): string {
  return `<table class="${cls}"><thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

/** A chart and its caption, which says (as every chart Credence draws does) that the population is synthetic. */
const figure = (svg: string, caption: string, n: number) =>
  `<figure><div class="chart">${svg}</div><figcaption><b>Figure ${n}.</b> ${esc(caption)} ${esc(SYNTHETIC_CAPTION)}</figcaption></figure>`;

function scenarioInWords(d: ReportData): string {
  const s = d.scenario;
  const m = d.manifest;
  const on = s.mechanisms;
  const o = s.observation;
  const channelRows = [
    ["cameras", o.cameras.enabled, `coverage ${pct(o.cameras.coverageUrban, 1)} urban, ${pct(o.cameras.coverageRural, 1)} rural`, `true match ${pct(o.cameras.trueMatchRate, 1)}; false match ${pct(o.cameras.falseMatchRate, 2)} (x${o.cameras.femaleFalseMatchMultiplier} for women); ${o.cameras.phantomPerYear} phantoms per person-year`],
    ["records", o.records.enabled, `coverage ${pct(o.records.coverage, 1)}`, `clerical errors ${pct(o.records.clericalErrorRate, 2)}`],
    ["online", o.online.enabled, `coverage ${pct(o.online.coverage, 1)}`, `${o.online.falsePositivePerYear} false flags per person-year`],
    ["informants", o.informants.enabled, `${pct(o.informants.share, 1)} of citizens, report probability ${pct(o.informants.reportProbability, 0)}`, `${o.informants.falseReportsPerYear} false reports per informant-year; reward ${o.informants.rewardPerReport}`],
    ["attention", o.attention.enabled, `${pct(o.attention.memberShare, 1)} members, ${o.attention.sessionsPerYear} sessions a year`, `accuracy ${pct(o.attention.accuracy, 0)}`],
  ].map(([name, enabled, coverage, errors]) => [`<b>${name}</b>`, enabled ? "on" : "off", esc(coverage), esc(errors)]);
  const rules = s.behaviours.map((b) => [`<code>${esc(b.id)}</code>`, esc(b.class), sig(b.ratePerYear), b.points > 0 ? `+${b.points}` : String(b.points), esc(b.observedBy.join(", ") || "—")]);
  // A family's lists share one row (their rules are the family's), beside the lists written one by one.
  const families = new Map<string, { n: number; regions: Set<string> }>();
  for (const l of s.lists) if (l.family) {
    const f = families.get(l.family) ?? families.set(l.family, { n: 0, regions: new Set() }).get(l.family)!;
    f.n++;
    for (const r of l.regions ?? []) f.regions.add(r);
  }
  const shown = s.lists.filter((l, k) => !l.family || s.lists.findIndex((x) => x.family === l.family) === k);
  const lists = shown.map((l) => [
    l.family ? `<code>${esc(l.family)}-*</code> (${families.get(l.family)!.n} lists in ${families.get(l.family)!.regions.size} regions)` : `<code>${esc(l.id)}</code>${l.regions ? ` (${esc(l.regions.join(", "))})` : ""}`,
    l.kind === "black" ? "blacklist" : "redlist",
    esc([l.entry.scoreBelow !== undefined ? `score < ${l.entry.scoreBelow}` : "", l.entry.scoreAtLeast !== undefined ? `score ≥ ${l.entry.scoreAtLeast}` : "", l.entry.acts.length ? `observed ${l.entry.acts.join(", ")}` : "", l.entry.firms ? "representing a blacklisted firm" : ""].filter(Boolean).join(" or ")),
    esc([l.minDays ? `at least ${l.minDays} days` : "", l.durationDays ? `${l.durationDays} days` : "", l.paymentExit.enabled ? `by paying (${l.paymentExit.perYear}/year, ${l.paymentExit.delayDays} days)` : ""].filter(Boolean).join("; ") || "score only"),
    l.published ? "yes" : "no",
    esc([...l.sanctions, ...l.privileges].join(", ") || "—"),
  ]);
  const mech = Object.entries(on).map(([k, v]) => `<span class="pill ${v ? "on" : "off"}">${esc(k)} ${v ? "on" : "off"}</span>`).join(" ");
  const g = s.population.groups;
  return `
  <p>${esc(s.description || s.title)}</p>
  <p>The run simulates <b>${int(m.population)}</b> synthetic citizens for <b>${int(m.days)}</b> days from ${esc(m.startDate)} (seed ${m.seed}),
  in ${s.population.regions.length} region${s.population.regions.length === 1 ? "" : "s"}${g.length ? ` with ${g.length} named group${g.length === 1 ? "" : "s"} (${g.map((x) => `${esc(x.id)}: ${pct(x.share, 1)} of the population, watched x${x.watchMultiplier}, false matches x${x.falseMatchMultiplier}`).join("; ")})` : ""}.
  Each citizen has a mean of ${s.graph.friendsMean} friends. Everyone starts with a score of ${s.scoring.initial} on a scale of ${s.scoring.min} to ${s.scoring.max}${s.scoring.grades.length ? `, graded ${s.scoring.grades.map((x) => `${esc(x.name)} (${x.min}+)`).join(", ")}` : ""}.
  The rules are <b>${s.scoring.secrecy}</b>; ${pct(s.scoring.awareness, 0)} of people know the score exists.
  ${on.association && s.scoring.association.enabled ? `Association is on: each household member is charged ${pct(s.scoring.association.householdShare, 0)} and each friend ${pct(s.scoring.association.friendShare, 0)} of a penalty.` : "No one is charged for another person's acts."}
  ${on.appeals && s.appeals.enabled ? `Appeals are possible in ${s.appeals.stages.length} stage(s).` : "There are no appeals."}</p>
  <h3>Surveillance channels</h3>
  ${table(["channel", "", "coverage", "errors"], channelRows)}
  <h3>Rules: what is scored</h3>
  ${table(["behaviour", "class", "rate per person-year", "points", "observed by"], rules, "compact")}
  <h3>Lists, sanctions and privileges</h3>
  ${lists.length ? table(["list", "kind", "entry", "exit", "published", "sanctions / privileges"], lists) : "<p>No lists.</p>"}
  <h3>Mechanisms</h3><p>${mech}</p>`;
}

export function renderHtml(d: ReportData, opts: { generatedBy: string }): string {
  const s = d.scenario;
  const m = d.manifest;
  const sum = m.summary;
  const last = d.daily[d.daily.length - 1];
  // The lists with daily columns (the reported ones, and the sums over each kind when some are not).
  const charted = chartedLists(s.lists);
  const blacklists = charted.filter((l) => l.kind === "black");
  let fig = 0;
  const charts: string[] = [];

  // Headline numbers: end-of-run stocks and run totals, read from the daily table.
  const headline: string[][] = [
    ["Citizens", int(Number(last.population)), ""],
    ...charted.flatMap((l) => {
      const on = Number(last[col("on", l.id)]);
      const wrong = Number(last[col("wrongful", l.id)]);
      return [
        [`On ${esc(l.id)} at the end`, int(on), pct(on / Number(last.population))],
        [`… of them listed wrongly`, int(wrong), on > 0 ? `${pct(wrong / on, 1)} of the list` : "—"],
      ];
    }),
    ["Purchases and applications blocked", int(d.totals.blocked_total), `${sig(d.totals.blocked_total / Number(last.population))} per citizen`],
    ["Friendships dropped", int(d.totals.ties_dropped), `${sig(d.totals.ties_dropped / Number(last.population))} per citizen`],
    ["Observations charged to the wrong person", int(d.totals.observations_misattributed), pct(d.totals.observations_misattributed / Math.max(1, d.totals.observations_true + d.totals.observations_misattributed + d.totals.observations_invented), 2) + " of observations"],
    ["Observations of acts that never happened", int(d.totals.observations_invented), pct(d.totals.observations_invented / Math.max(1, d.totals.observations_true + d.totals.observations_misattributed + d.totals.observations_invented), 2) + " of observations"],
    ["Chilling of speech over the run", pct(sum.chilling, 1), "1 − speech / speech with nobody watching"],
  ];

  const series = (cols: [string, string][]): SeriesPoint[] =>
    d.daily.flatMap((r) => cols.map(([c, name]) => ({ date: date(r), series: name, value: Number(r[c]) })));
  if (charted.length) {
    charts.push(figure(lineChart(series(charted.map((l) => [col("on", l.id), l.id])), { y: "people on the list" }), `People on each list at the end of each day${charted.some((l) => l.sum) ? " (all-blacklists and all-redlists: listings summed over every list of the kind)" : ""}.`, ++fig));
    charts.push(figure(lineChart(series(charted.map((l) => [col("wrongful", l.id), l.id])), { y: "listed wrongly" }), "People on each list who would not be on it had every channel been right (wrongful listings).", ++fig));
  }
  charts.push(figure(lineChart(series([["blocked_total", "blocked"]]), { y: "blocked per day" }), "Attempts (flights, trains, hotels, loans, jobs...) blocked by a sanction, per day.", ++fig));
  charts.push(figure(lineChart(series([["chilling", "chilling"]]), { y: "chilling", percent: true, height: 200 }), "Chilling: the share of speech that did not happen because people felt watched (1 − speech acts / speech expected with nobody watching), per day.", ++fig));
  charts.push(figure(lineChart(series([["ties_dropped", "ties dropped"]]), { y: "ties dropped per day", height: 200 }), "Friendships dropped because of a listing, per day.", ++fig));
  if (blacklists.length && d.byGroup.length > 1) {
    const bars: Bar[] = d.byGroup.flatMap((r) => blacklists.map((l) => ({ label: String(r.group), series: l.id, value: Number(r[col("on", l.id)]) / Math.max(1, Number(r.population)) })));
    charts.push(figure(barChart(bars, { x: "share of the group on the list", percent: true }), "Share of each population group on each blacklist at the end of the run.", ++fig));
    const wrong: Bar[] = d.byGroup.flatMap((r) => blacklists.map((l) => ({ label: String(r.group), series: l.id, value: Number(r[col("wrongful", l.id)]) / Math.max(1, Number(r.population)) })));
    charts.push(figure(barChart(wrong, { x: "share of the group listed wrongly", percent: true }), "Share of each population group listed wrongly on each blacklist at the end of the run.", ++fig));
  }
  if (d.byRegion.length > 1) {
    const top = [...d.byRegion].sort((a, b) => Number(b.blacklisted) / Number(b.population) - Number(a.blacklisted) / Number(a.population)).slice(0, 15);
    const bars: Bar[] = top.map((r) => ({ label: String(r.region), series: "blacklisted", value: Number(r.blacklisted) / Math.max(1, Number(r.population)) }));
    charts.push(figure(barChart(bars, { x: "share on at least one blacklist", percent: true }), `Share of people on at least one blacklist at the end of the run, by region${d.byRegion.length > 15 ? " (the 15 highest)" : ""}.`, ++fig));
  }

  const targets = sum.targets.map((t) => [
    `<code>${esc(t.metric)}</code>`, sig(t.target), `±${pct(t.tolerance, 0)}`, sig(t.simulated),
    `<span class="${t.pass ? "pass" : "fail"}">${t.pass ? "pass" : "fail"}</span>`, esc(t.source ?? ""),
  ]);
  const passed = sum.targets.filter((t) => t.pass).length;

  // A note shared by the fields of one entry (a region line, a behaviour) is printed once.
  const params = d.parameters.map((p, i) => [
    `<code>${esc(p.path)}</code>`, esc(value(p.value)),
    esc(p.default === "required" ? "required" : p.default.replace(/`/g, "").replace(/ \(.*\)$/, "")),
    p.setInFile === null ? "" : p.setInFile ? "file" : "default",
    p.source && i > 0 && p.source.from === "entry" && d.parameters[i - 1].source?.text === p.source.text ? `<span class="muted">as above</span>` :
    p.source ? `${p.source.from === "entry" ? "<i>entry:</i> " : ""}${esc(p.source.text)}` : p.setInFile === false ? `<span class="muted">schema default${p.description ? ": " + esc(p.description) : ""}</span>` : `<span class="muted">not stated</span>`,
  ]);

  const odd = oddSections(s, m).map((sec) => `<h3 id="odd-${sec.id}">${esc(sec.title)}</h3>${sec.paragraphs.map((p) => `<p>${esc(p)}</p>`).join("")}${sec.items ? `<ul>${sec.items.map((i) => `<li>${esc(i)}</li>`).join("")}</ul>` : ""}`).join("");

  const sections: [string, string, string][] = [
    ["summary", "Summary", `${table(["", "count", "share"], headline, "numbers")}`],
    ["scenario", "The scenario in words", scenarioInWords(d)],
    ["calibration", "Calibration", sum.targets.length ? `<p>${passed} of ${sum.targets.length} targets are within their tolerance (relative deviation of the simulated value from the target).</p>${table(["metric", "target", "tolerance", "simulated", "", "source"], targets)}` : "<p>The scenario names no targets.</p>"],
    ["results", "Results", charts.join("\n")],
    ["odd", "Model description (ODD protocol)", `<p class="muted">Overview, Design concepts and Details (Grimm et al. 2006; 2010; 2020), generated from the resolved scenario of this run.</p>${odd}`],
    ["parameters", "Parameters and their sources", `<p>Every field of the resolved scenario: the value used, the schema's default, whether the scenario file sets it, and the source recorded in the file (a comment on the field, or on its entry). ${d.sourcesNote ? `<b>Sources could not be read: ${esc(d.sourcesNote)}.</b>` : ""}</p>${table(["parameter", "value", "default", "set by", "source"], params, "params")}`],
    ["reproduce", "Reproducing this run", `<p>Credence ${esc(m.version)}, Node ${esc(m.node)} on ${esc(m.platform)}. Scenario hash (SHA-256 of the resolved scenario) <code>${esc(m.scenarioHash)}</code>. The same scenario and seed give the same results:</p><pre>credence run ${esc(m.scenarioPath ?? `<${s.name}.yaml>`)} --population ${m.population} --days ${m.days} --seed ${m.seed}</pre><p>Simulated in ${m.stats.simulateSeconds.toFixed(1)} s (${int(m.stats.agentDaysPerSecond)} agent-days per second). Every number above can be recomputed from <code>run.duckdb</code> of the run folder; the tables are documented in docs/outputs.md.</p>`],
  ];

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="${esc(opts.generatedBy)}">
<title>${esc(s.title || s.name)}: Credence run report</title>
<style>${CSS}</style></head>
<body>
<header class="cover">
  <div class="kicker">Credence run report · synthetic population</div>
  <h1>${esc(s.title || s.name)}</h1>
  <dl class="meta">
    <div><dt>Scenario</dt><dd><code>${esc(s.name)}</code></dd></div>
    <div><dt>Citizens</dt><dd>${int(m.population)}</dd></div>
    <div><dt>Days</dt><dd>${int(m.days)} from ${esc(m.startDate)}</dd></div>
    <div><dt>Seed</dt><dd>${m.seed}</dd></div>
    <div><dt>Run</dt><dd>${esc(m.createdAt.slice(0, 19).replace("T", " "))} UTC</dd></div>
    <div><dt>Targets</dt><dd>${sum.targets.length ? `${passed} of ${sum.targets.length} pass` : "none"}</dd></div>
  </dl>
  <nav><ol>${sections.map(([id, title]) => `<li><a href="#${id}">${esc(title)}</a></li>`).join("")}</ol></nav>
  <p class="note">Every person in this report is synthetic, generated by the simulator from a seed. The model describes a scoring regime; it does not operate one.</p>
</header>
${sections.map(([id, title, body], i) => `<section id="${id}"><h2><span class="num">${i + 1}</span>${esc(title)}</h2>${body}</section>`).join("\n")}
<footer>Generated by ${esc(opts.generatedBy)} from ${esc(d.runDir)}.</footer>
</body></html>
`;
}

const CSS = `
@page { size: A4; margin: 18mm 16mm 20mm 16mm; }
:root { --ink: #1d2430; --muted: #5b6573; --rule: #d8dde4; --accent: #0b4f8a; --bg: #f5f7fa; }
* { box-sizing: border-box; }
html { font-family: Charter, 'Bitstream Charter', 'Source Serif Pro', Georgia, serif; color: var(--ink); font-size: 10.5pt; line-height: 1.45; }
body { max-width: 190mm; margin: 0 auto; padding: 12mm 0; }
h1, h2, h3, .kicker, dl.meta, nav, table, figcaption, footer, .pill { font-family: 'Source Sans 3', 'Helvetica Neue', Helvetica, Arial, sans-serif; }
h1 { font-size: 24pt; line-height: 1.15; margin: 2mm 0 6mm; color: var(--accent); }
h2 { font-size: 15pt; margin: 0 0 4mm; padding-bottom: 2mm; border-bottom: 2px solid var(--accent); }
h2 .num { color: var(--accent); margin-right: 3mm; }
h3 { font-size: 11.5pt; margin: 6mm 0 2mm; }
section { margin-top: 10mm; }
section#scenario, section#results, section#odd, section#parameters { break-before: page; }
.kicker { text-transform: uppercase; letter-spacing: .08em; font-size: 8.5pt; color: var(--muted); }
.cover { border-bottom: 1px solid var(--rule); padding-bottom: 6mm; }
dl.meta { display: grid; grid-template-columns: repeat(3, 1fr); gap: 2mm 6mm; margin: 0 0 6mm; }
dl.meta div { background: var(--bg); padding: 2mm 3mm; border-left: 3px solid var(--accent); }
dl.meta dt { font-size: 8pt; color: var(--muted); text-transform: uppercase; letter-spacing: .05em; }
dl.meta dd { margin: 0; font-weight: 600; }
nav ol { columns: 2; margin: 0; padding-left: 5mm; }
nav a { color: var(--ink); text-decoration: none; }
.note { font-size: 9pt; color: var(--muted); font-style: italic; }
table { border-collapse: collapse; width: 100%; font-size: 8.8pt; margin: 2mm 0 4mm; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
th { text-align: left; font-weight: 600; border-bottom: 1.5px solid var(--ink); padding: 1.2mm 2mm; vertical-align: bottom; }
td { border-bottom: 1px solid var(--rule); padding: 1mm 2mm; vertical-align: top; }
tbody tr:nth-child(even) td { background: #fafbfc; }
table.numbers td:nth-child(2), table.numbers td:nth-child(3) { text-align: right; font-variant-numeric: tabular-nums; }
table.numbers td:first-child { width: 55%; }
table.params { font-size: 7.6pt; }
table.params td:nth-child(1) { width: 33%; word-break: break-all; }
table.params td:nth-child(2) { width: 14%; word-break: break-word; }
table.params td:nth-child(3) { width: 11%; word-break: break-word; }
table.params td:nth-child(4) { width: 6%; }
code { font-family: 'DejaVu Sans Mono', Menlo, Consolas, monospace; font-size: .88em; }
pre { background: var(--bg); padding: 3mm; font-size: 8.5pt; white-space: pre-wrap; word-break: break-all; }
.pass { color: #0a7a3d; font-weight: 700; }
.fail { color: #b3261e; font-weight: 700; }
.muted { color: var(--muted); }
.pill { display: inline-block; font-size: 8pt; padding: .4mm 2mm; border-radius: 3mm; margin: .5mm; }
.pill.on { background: #e3f1e8; color: #0a5a2d; }
.pill.off { background: #f3e3e2; color: #8a1f18; }
figure { margin: 4mm 0 6mm; break-inside: avoid; }
figure .chart svg { max-width: 100%; height: auto; }
figcaption { font-size: 8.8pt; color: var(--muted); margin-top: 1mm; }
ul li { margin-bottom: 1.2mm; }
footer { margin-top: 12mm; font-size: 8pt; color: var(--muted); border-top: 1px solid var(--rule); padding-top: 2mm; }
@media screen { body { padding: 12mm 6mm; } }
`;
