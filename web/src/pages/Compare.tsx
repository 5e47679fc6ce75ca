// Two runs side by side: their summary metrics with the difference, and the same charts
// overlaid (per 100,000 citizens, so runs of different sizes compare).
import { useEffect, useState } from "preact/hooks";
import { api, series, type Overview, type Row, type RunListing } from "../api";
import { Chart } from "../components/Chart";
import { DataTable } from "../components/DataTable";
import { Status } from "../components/Loading";
import { lines, longRows, type SeriesSpec } from "../components/plots";
import { fmtInt, fmtMetric } from "../format";
import { href } from "../main";

const CHARTS: { title: string; specs: SeriesSpec[]; percent?: boolean; perCapita?: boolean; smooth?: boolean }[] = [
  { title: "On a blacklist", specs: [{ key: "on_black", label: "listings" }], perCapita: true },
  { title: "Wrongful blacklistings", specs: [{ key: "wrongful_black", label: "wrongful" }], perCapita: true },
  { title: "On a redlist", specs: [{ key: "on_red", label: "listings" }], perCapita: true },
  { title: "Blocked flights and trains", specs: [{ key: "blocked_flights", label: "flights", cumulative: true }, { key: "blocked_trains", label: "trains", cumulative: true }], perCapita: true },
  { title: "Appeals filed", specs: [{ key: "appeals_filed", label: "filed", cumulative: true }], perCapita: true },
  { title: "Chilling", specs: [{ key: "chilling", label: "chilling" }], percent: true, smooth: true },
  { title: "Friendships dropped", specs: [{ key: "ties_dropped", label: "ties", cumulative: true }], perCapita: true },
];
const KEYS = [...new Set(CHARTS.flatMap((c) => c.specs.map((s) => s.key)))];

function RunSelect(props: { runs: RunListing[]; value: string | null; onChange: (v: string) => void; id: string }) {
  return (
    <select id={props.id} value={props.value ?? ""} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
      <option value="" disabled>choose a run</option>
      {props.runs.map((r) => <option value={r.id}>{r.id} ({r.name}, {fmtInt(r.population)})</option>)}
    </select>
  );
}

export function ComparePage(props: { a: string | null; b: string | null }) {
  const [runs, setRuns] = useState<RunListing[]>([]);
  const [data, setData] = useState<{ o: Overview; rows: Row[] }[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<{ runs: RunListing[] }>("runs").then((r) => setRuns(r.runs.filter((x) => x.status === "complete")), (e) => setError(e.message));
  }, []);
  useEffect(() => {
    setData(null);
    if (!props.a || !props.b) return;
    Promise.all(
      [props.a, props.b].map(async (id) => {
        const o = await api<Overview>(`runs/${encodeURIComponent(id)}/overview`);
        return { o, rows: await series(id, KEYS) };
      }),
    ).then(setData, (e) => setError(e.message));
  }, [props.a, props.b]);
  const set = (which: "a" | "b") => (v: string) => (location.hash = href("compare", which === "a" ? v : props.a ?? "", which === "b" ? v : props.b ?? ""));
  const [A, B] = data ?? [];
  const names = data ? [`A ${A.o.id}`, `B ${B.o.id}`] : [];
  const metricRows = data
    ? [...new Set([...Object.keys(A.o.summary.metrics), ...Object.keys(B.o.summary.metrics)])].map((metric) => {
        const a = A.o.summary.metrics[metric];
        const b = B.o.summary.metrics[metric];
        // Undefined (null) on either side: no difference to show.
        return { metric, a, b, diff: a != null && b != null ? b - a : null };
      })
    : [];
  const changed = metricRows.filter((r) => r.diff !== null && Math.abs(r.diff) > 1e-12).sort((x, y) => Math.abs(y.diff! / (Math.abs(x.a ?? 0) + 1e-9)) - Math.abs(x.diff! / (Math.abs(y.a ?? 0) + 1e-9)));
  return (
    <>
      <div class="page-head">
        <div>
          <p class="crumb"><a href="#/">Runs</a> / compare</p>
          <h1>Compare two runs</h1>
          <p class="lede">Counts are per 100,000 citizens so that runs of different sizes line up. A is solid, B dashed.</p>
        </div>
      </div>
      <div class="card compare-pick">
        <label>A <RunSelect id="run-a" runs={runs} value={props.a} onChange={set("a")} /></label>
        <label>B <RunSelect id="run-b" runs={runs} value={props.b} onChange={set("b")} /></label>
      </div>
      {error && <div class="card error" role="alert">{error}</div>}
      {props.a && props.b && !error && (
        <Status loading={!data}>
          {data && (
            <>
              <div class="grid">
                {CHARTS.map((c) => {
                  const per = (o: Overview) => (c.perCapita ? o.population / 100_000 : 1);
                  const long = data.flatMap((d, i) => longRows(d.rows, c.specs.map((s) => ({ ...s, scale: per(d.o) })), c.specs.length > 1 ? `${"AB"[i]} ` : `${"AB"[i]} `));
                  return (
                    <Chart
                      title={`${c.title}${c.perCapita ? " per 100,000" : ""}`}
                      note={`${names[0]} vs ${names[1]}`}
                      deps={[data]}
                      render={(w) => lines(long, w, { percent: c.percent, smooth: c.smooth, dashed: (s) => s.startsWith("B "), colors: c.specs.length > 1 ? ["#3b5bdb", "#e8590c", "#3b5bdb", "#e8590c"] : ["#3b5bdb", "#e8590c"] })}
                    />
                  );
                })}
              </div>
              <DataTable
                title="Differences"
                id="differences"
                note={`Summary metrics that differ, largest relative change first (B − A). ${changed.length} of ${metricRows.length} differ.`}
                wide
                rows={changed}
                columns={[
                  { key: "metric", label: "Metric" },
                  { key: "a", label: `A ${A.o.id}`, align: "right", format: (v, r) => fmtMetric(r.metric, v) },
                  { key: "b", label: `B ${B.o.id}`, align: "right", format: (v, r) => fmtMetric(r.metric, v) },
                  { key: "diff", label: "B − A", align: "right", format: (v, r) => <span class="diff">{v > 0 ? "+" : ""}{fmtMetric(r.metric, v)}</span> },
                ]}
              />
            </>
          )}
        </Status>
      )}
    </>
  );
}
