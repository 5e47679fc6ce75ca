// One run: how its society changed day by day, the score distribution by group and region, a
// tile map of the regions coloured by any metric, and the calibration table.
import * as Plot from "@observablehq/plot";
import { useEffect, useState } from "preact/hooks";
import { api, series, type Overview, type Row } from "../api";
import { Chart } from "../components/Chart";
import { DataTable } from "../components/DataTable";
import { Status } from "../components/Loading";
import { addLegend, lines, longRows, PALETTE, type SeriesSpec } from "../components/plots";
import { tilesFor } from "../data/china-tiles";
import { col, fmtCompact, fmtDate, fmtInt, fmtMetric, fmtNum, fmtPct, label } from "../format";
import { href } from "../main";
import { chartedLists, listMetrics, totalOfKind } from "../../../src/metrics/list-metrics";

/** The time-series charts of a run, from the lists it has. */
export function chartSpecs(o: Overview): { title: string; note: string; specs: SeriesSpec[]; percent?: boolean; smooth?: boolean }[] {
  const has = (c: string) => o.metrics.includes(c);
  // Lists with columns of their own, and the sums over each kind when some list has none.
  const lists = chartedLists(o.lists);
  const black = lists.filter((l) => l.kind === "black");
  return [
    { title: "People on each list", note: lists.some((l) => l.sum) ? "At the end of each day; all-blacklists and all-redlists count listings over every list of the kind" : "At the end of each day", specs: lists.map((l) => ({ key: col(listMetrics(l.id).on.name), label: `${l.id} (${l.kind})` })) },
    {
      title: "Wrongful listings",
      note: "On a blacklist though ground truth does not justify it; and listed only through association",
      specs: black.flatMap((l) => [
        { key: col(listMetrics(l.id).wrongful.name), label: `wrongful: ${l.id}` },
        { key: col(listMetrics(l.id).viaAssociation.name), label: `association: ${l.id}` },
      ]),
    },
    { title: "Blocked purchases", note: "Cumulative attempts refused by a sanction", specs: ["flights", "trains"].filter((s) => has(`blocked_${s}`)).map((s) => ({ key: `blocked_${s}`, label: s, cumulative: true })) },
    { title: "Appeals", note: "Cumulative appeals filed and won", specs: [{ key: "appeals_filed", label: "filed", cumulative: true }, { key: "appeals_won", label: "won", cumulative: true }] },
    { title: "Chilling", note: "1 − speech acts ÷ speech expected with nobody watching (7-day mean)", specs: [{ key: "chilling", label: "chilling" }], percent: true, smooth: true },
    { title: "Friendships dropped", note: "Cumulative ties cut because of a listing", specs: [{ key: "ties_dropped", label: "ties dropped", cumulative: true }] },
  ].filter((c) => c.specs.length > 0);
}

function TileMap(props: { run: string; overview: Overview }) {
  const { overview } = props;
  const [metric, setMetric] = useState(overview.lists.some((l) => l.kind === "black") ? "on_black" : "mean_score");
  const [perCapita, setPerCapita] = useState(true);
  const [rows, setRows] = useState<Row[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<{ rows: Row[] }>(`runs/${encodeURIComponent(props.run)}/regions?metric=${encodeURIComponent(metric)}`).then((r) => setRows(r.rows), (e) => setError(e.message));
  }, [props.run, metric]);
  const ratio = metric === "chilling" || metric === "mean_score" || metric === "population";
  const value = (r: Row) => (perCapita && !ratio ? (Number(r.value) / Math.max(1, Number(r.population))) * 100_000 : Number(r.value));
  const tiles = tilesFor(rows.map((r) => String(r.region)));
  const data = rows.map((r) => ({ region: String(r.region), row: tiles.get(String(r.region))![0], col: tiles.get(String(r.region))![1], value: value(r), raw: r.value, population: r.population }));
  const options = ["on_black", "wrongful_black", "via_association_black", "on_red", ...overview.regionMetrics.filter((m) => m !== "population")];
  const unit = perCapita && !ratio ? " per 100,000" : "";
  return (
    <Chart
      title={`Regions: ${label(metric)}${unit}`}
      note="Tile map: each region one square. Stocks on the last day; flows summed over the run."
      deps={[rows, perCapita]}
      controls={
        <>
          <select aria-label="map metric" id="map-metric" value={metric} onChange={(e) => setMetric((e.target as HTMLSelectElement).value)}>
            {options.map((m) => <option value={m}>{label(m)}</option>)}
          </select>
          <label class="check"><input type="checkbox" checked={perCapita} onChange={() => setPerCapita(!perCapita)} />per 100k</label>
        </>
      }
      render={(width) => {
        if (error) return Object.assign(document.createElement("p"), { textContent: error, className: "error" });
        if (!data.length) return null;
        const cols = Math.max(...data.map((d) => d.col)) + 1;
        const rowsN = Math.max(...data.map((d) => d.row)) + 1;
        const size = Math.min(78, Math.floor((width - 20) / cols));
        // Dark tiles get white text.
        const lo = Math.min(...data.map((d) => d.value));
        const hi = Math.max(...data.map((d) => d.value));
        const ink = (d: Row) => (hi > lo && (d.value - lo) / (hi - lo) > 0.62 ? "#fff" : "#212529");
        return Plot.plot({
          width: size * cols + 20,
          height: size * rowsN + 70,
          marginTop: 60,
          marginLeft: 10,
          marginRight: 10,
          marginBottom: 10,
          padding: 0.06,
          style: { fontFamily: "system-ui, -apple-system, Segoe UI, sans-serif", fontSize: "11px" },
          x: { axis: null, domain: [...Array(cols).keys()] },
          y: { axis: null, domain: [...Array(rowsN).keys()] },
          color: { type: "linear", scheme: metric === "mean_score" ? "blues" : "oranges", legend: true, label: `${label(metric)}${unit}` },
          marks: [
            Plot.cell(data, { x: "col", y: "row", fill: "value", rx: 4, title: (d: Row) => `${d.region}\n${label(metric)}: ${fmtNum(d.raw, 3)}\ncitizens: ${fmtInt(d.population)}` }),
            Plot.text(data, { x: "col", y: "row", text: (d: Row) => (d.region.length > 9 ? d.region.slice(0, 8) + "." : d.region), dy: -7, fill: ink, fontWeight: 600, fontSize: 10 }),
            Plot.text(data, { x: "col", y: "row", text: (d: Row) => (ratio && metric === "chilling" ? fmtPct(d.value, 0) : fmtCompact(d.value)), dy: 8, fill: ink, fontSize: 11 }),
          ],
        });
      }}
    />
  );
}

function Distribution(props: { run: string }) {
  const [by, setBy] = useState<"group" | "region">("group");
  const [d, setD] = useState<{ day: number; days: number[]; rows: Row[] } | null>(null);
  const [day, setDay] = useState<number | null>(null);
  useEffect(() => {
    api<{ day: number; days: number[]; rows: Row[] }>(`runs/${encodeURIComponent(props.run)}/distribution?by=${by}${day === null ? "" : `&day=${day}`}`).then(setD);
  }, [props.run, by, day]);
  const totals = new Map<string, number>();
  for (const r of d?.rows ?? []) totals.set(r.key, (totals.get(r.key) ?? 0) + Number(r.count));
  const data = (d?.rows ?? []).map((r) => ({ ...r, share: Number(r.count) / (totals.get(r.key) || 1), mid: (Number(r.bin_low) + Number(r.bin_high)) / 2 }));
  return (
    <Chart
      title={`Score distribution by ${by}`}
      note={d ? `Share of each ${by}'s citizens per score bin (%), day ${d.day}` : ""}
      deps={[d]}
      wide
      controls={
        <>
          <select aria-label="distribution by" value={by} onChange={(e) => setBy((e.target as HTMLSelectElement).value as "group" | "region")}>
            <option value="group">by group</option>
            <option value="region">by region</option>
          </select>
          {d && (
            <select aria-label="distribution day" value={String(d.day)} onChange={(e) => setDay(Number((e.target as HTMLSelectElement).value))}>
              {d.days.map((x) => <option value={String(x)}>day {x}</option>)}
            </select>
          )}
        </>
      }
      render={(width) => {
        if (!data.length) return null;
        const style = { fontFamily: "system-ui, -apple-system, Segoe UI, sans-serif", fontSize: "11px" };
        if (by === "group") {
          const keys = [...totals.keys()];
          const svg = Plot.plot({
            width, height: 280, style, marginLeft: 50, marginTop: 34,
            x: { label: "score" }, y: { label: null, percent: true, grid: true },
            color: { domain: keys, range: PALETTE },
            marks: [
              Plot.areaY(data, { x: "mid", y1: 0, y2: "share", fill: "key", fillOpacity: 0.06, curve: "monotone-x" }),
              Plot.lineY(data, { x: "mid", y: "share", stroke: "key", strokeWidth: 2, curve: "monotone-x" }),
              Plot.ruleY([0]),
            ],
          });
          return addLegend(svg, keys, PALETTE);
        }
        const keys = [...totals.keys()];
        return Plot.plot({
          width, height: Math.max(200, keys.length * 16 + 60), style, marginLeft: 110,
          x: { label: "score" }, y: { label: null, domain: keys },
          color: { scheme: "blues", type: "sqrt", legend: true, label: "share of region" },
          marks: [Plot.rect(data, { x1: "bin_low", x2: "bin_high", y: "key", fill: "share", title: (r: Row) => `${r.key}: ${fmtPct(r.share)} at ${r.bin_low}–${r.bin_high}` })],
        });
      }}
    />
  );
}

export function RunPage(props: { run: string }) {
  const [o, setO] = useState<Overview | null>(null);
  const [rows, setRows] = useState<Row[] | null>(null);
  const [targets, setTargets] = useState<Row[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setO(null);
    setRows(null);
    api<{ rows: Row[] }>(`runs/${encodeURIComponent(props.run)}/targets`).then((t) => setTargets(t.rows), () => undefined);
    api<Overview>(`runs/${encodeURIComponent(props.run)}/overview`)
      .then(async (ov) => {
        setO(ov);
        setRows(await series(props.run, [...new Set(chartSpecs(ov).flatMap((c) => c.specs.map((s) => s.key)))]));
      })
      .catch((e) => setError(e.message));
  }, [props.run]);
  const last = rows?.[rows.length - 1];
  const black = o ? totalOfKind(chartedLists(o.lists), "black") : [];
  const onBlack = last ? black.reduce((s, l) => s + Number(last[col(listMetrics(l.id).on.name)] ?? 0), 0) : 0;
  const wrongBlack = last ? black.reduce((s, l) => s + Number(last[col(listMetrics(l.id).wrongful.name)] ?? 0), 0) : 0;
  const m = o?.summary.metrics ?? {};
  return (
    <Status error={error} loading={!o}>
      {o && (
        <>
          <div class="page-head">
            <div>
              <p class="crumb"><a href="#/">Runs</a> / {o.id}</p>
              <h1>{o.title || o.name}</h1>
              <p class="lede">
                {o.name} · {fmtInt(o.population)} synthetic citizens · {fmtInt(o.days)} days from {o.startDate} · seed {o.seed} · rules {o.secrecy} · {fmtDate(o.createdAt)}
              </p>
            </div>
            <div class="head-actions">
              <a class="button" href={href("run", o.id, "citizen")}>Follow a citizen</a>
              <a class="button" href={href("compare", o.id)}>Compare…</a>
            </div>
          </div>
          <div class="kpis">
            <div class="kpi" data-kpi="blacklisted"><span>On a blacklist at the end</span><strong id="kpi-listed">{fmtInt(onBlack)}</strong><em>listings, {fmtPct(m.blacklisted_share, 2)} of citizens</em></div>
            <div class="kpi" data-kpi="wrongful"><span>Of them wrongful</span><strong id="kpi-wrongful">{fmtInt(wrongBlack)}</strong><em>{onBlack ? fmtPct(wrongBlack / onBlack) : "—"} by ground truth</em></div>
            <div class="kpi"><span>Chilling</span><strong>{fmtPct(m.chilling)}</strong><em>speech that went quiet</em></div>
            <div class="kpi"><span>Flights blocked</span><strong>{fmtNum((m["blocked_per_capita.flights"] ?? 0) * 1000, 2)}</strong><em>per 1,000 citizens</em></div>
            <div class="kpi"><span>Association</span><strong>{fmtPct(m.association_penalty_share)}</strong><em>of penalty points for others' acts</em></div>
          </div>
          <Status loading={!rows}>
            <div class="grid">
              {rows && chartSpecs(o).map((c) => (
                <Chart title={c.title} note={c.note} deps={[rows]} render={(w) => lines(longRows(rows, c.specs), w, { percent: c.percent, smooth: c.smooth })} />
              ))}
            </div>
          </Status>
          <div class="grid">
            <Distribution run={o.id} />
          </div>
          <div class="grid two">
            <TileMap run={o.id} overview={o} />
            <DataTable
              title="Calibration"
              note="Each target of the scenario beside the simulated value"
              id="targets"
              rows={targets}
              empty="This scenario has no targets."
              columns={[
                { key: "metric", label: "Metric", format: (v, r) => <span title={r.source}>{v}</span> },
                { key: "target", label: "Target", align: "right", format: (v, r) => fmtMetric(r.metric, v) },
                { key: "simulated", label: "Simulated", align: "right", format: (v, r) => fmtMetric(r.metric, v) },
                { key: "tolerance", label: "±", align: "right", format: (v) => fmtPct(v, 0) },
                { key: "pass", label: "Result", format: (v) => <span class={`pill ${v ? "complete" : "incomplete"}`}>{v ? "pass" : "fail"}</span> },
              ]}
            />
          </div>
          <DataTable
            title="Summary metrics"
            note="Scale-free figures of the whole run (what targets and comparisons use)"
            wide
            rows={Object.entries(m).map(([metric, value]) => ({ metric, value }))}
            columns={[{ key: "metric", label: "Metric" }, { key: "value", label: "Value", align: "right", format: (v, r) => fmtMetric(r.metric, v) }]}
          />
        </>
      )}
    </Status>
  );
}
