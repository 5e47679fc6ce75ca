// One synthetic citizen: pick an interesting one (listed wrongly, through association, never
// got off), see their trail as a timeline beside what the regime's app would show them.
import * as Plot from "@observablehq/plot";
import { useEffect, useState } from "preact/hooks";
import { api, type Overview, type Row } from "../api";
import { Chart } from "../components/Chart";
import { DataTable } from "../components/DataTable";
import { Status } from "../components/Loading";
import { fmtInt, fmtNum } from "../format";
import { href } from "../main";

const FILTERS = [
  ["wrongful", "Listed wrongly"],
  ["association", "Listed through association"],
  ["stuck", "Never got off"],
  ["misattributed", "Charged with others' acts"],
  ["any", "Anyone"],
] as const;

function Picker(props: { run: string; agent: number | null }) {
  const [filter, setFilter] = useState<(typeof FILTERS)[number][0]>("wrongful");
  const [rows, setRows] = useState<Row[]>([]);
  const [q, setQ] = useState("");
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<{ rows: Row[] }>(`runs/${encodeURIComponent(props.run)}/citizens?filter=${filter}&limit=12`).then((r) => setRows(r.rows), (e) => setError(e.message));
  }, [props.run, filter]);
  const go = (e: Event) => {
    e.preventDefault();
    if (/^\d+$/.test(q.trim())) location.hash = href("run", props.run, "citizen", q.trim());
  };
  return (
    <div class="picker">
      <form class="search" onSubmit={go}>
        <input id="agent-search" placeholder="Citizen id, e.g. 1234" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} inputMode="numeric" />
        <button class="primary" type="submit">Open</button>
      </form>
      <div class="tabs">
        {FILTERS.map(([k, l]) => <button class={filter === k ? "tab on" : "tab"} data-filter={k} onClick={() => setFilter(k)}>{l}</button>)}
      </div>
      {error && <div class="error">{error}</div>}
      <DataTable
        title="Citizens to follow"
        id="citizens"
        rows={rows}
        onRow={(r) => (location.hash = href("run", props.run, "citizen", r.agent))}
        empty="Nobody in the trail sample fits; try another tab."
        columns={[
          { key: "agent", label: "Citizen", format: (v) => <a href={href("run", props.run, "citizen", v)} class={v === props.agent ? "current" : ""}>#{v}</a> },
          { key: "region", label: "Region" },
          { key: "score", label: "Score", align: "right", format: (v) => fmtNum(v, 0) },
          { key: "lists", label: "Lists at end", format: (v) => (v ? String(v).replace(/,/g, ", ") : "—") },
          { key: "friends_lost", label: "Friends lost", align: "right" },
        ]}
      />
    </div>
  );
}

const KIND_CLASS: Record<string, string> = {
  act: "act", observed: "obs", points: "pts", association: "assoc", LISTED: "listed", delisted: "delisted",
  appeal: "appeal", "tie dropped": "tie", blocked: "blocked", granted: "granted",
};

function CitizenApp(props: { app: Row; overview: Overview }) {
  const { app } = props;
  return (
    <section class="card phone" id="citizen-app">
      <div class="phone-bar">Citizen app · rules {app.secrecy}</div>
      <div class="phone-score">
        <span>Your credit score</span>
        <strong id="app-score">{fmtNum(app.score, 0)}</strong>
        {app.grade && <em>grade {app.grade}</em>}
      </div>
      {app.lists.length > 0 ? <div class="phone-warn">You are on: {app.lists.join(", ")}</div> : <div class="phone-ok">No restrictions shown</div>}
      {app.secrecy === "secret" ? (
        <p class="phone-note" id="app-secret">The rules are secret: the app shows no reasons for this score.</p>
      ) : (
        <>
          <h4>Why (the system's record)</h4>
          <ul class="reasons" id="app-reasons">
            {app.reasons.length === 0 && <li class="muted">No changes recorded.</li>}
            {app.reasons.slice().reverse().slice(0, 12).map((r: Row) => (
              <li><span>{r.date}</span><span>{r.what}</span><b class={Number(r.points) < 0 ? "neg" : "pos"}>{Number(r.points) > 0 ? "+" : ""}{fmtNum(r.points, 1)}</b></li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

export function CitizenPage(props: { run: string; agent: number | null }) {
  const [o, setO] = useState<Overview | null>(null);
  const [data, setData] = useState<{ citizen: Row; events: Row[]; app: Row; truncated: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [hide, setHide] = useState<Set<string>>(new Set());
  useEffect(() => {
    api<Overview>(`runs/${encodeURIComponent(props.run)}/overview`).then(setO, (e) => setError(e.message));
  }, [props.run]);
  useEffect(() => {
    setData(null);
    setError(null);
    if (props.agent !== null) api<typeof data>(`runs/${encodeURIComponent(props.run)}/citizens/${props.agent}`).then(setData, (e) => setError(e.message));
  }, [props.run, props.agent]);
  const c = data?.citizen;
  const labels = [...new Set((data?.events ?? []).map((e) => e.label as string))];
  const shown = (data?.events ?? []).filter((e) => !hide.has(e.label));
  const scored = (data?.events ?? []).filter((e) => e.score !== null && e.score !== undefined).map((e) => ({ date: new Date(`${e.date}T00:00:00Z`), score: Number(e.score) }));
  const marks = (data?.events ?? []).filter((e) => e.event === "listed" || e.event === "delisted").map((e) => ({ date: new Date(`${e.date}T00:00:00Z`), what: `${e.event} ${e.list}`, listed: e.event === "listed" }));
  return (
    <>
      <div class="page-head">
        <div>
          <p class="crumb"><a href="#/">Runs</a> / <a href={href("run", props.run)}>{props.run}</a> / citizen</p>
          <h1>{props.agent === null ? "Follow a citizen" : `Synthetic citizen #${props.agent}`}</h1>
          <p class="lede">{o ? `The trail sample of this run keeps ${fmtInt(o.trailSample)} of ${fmtInt(o.population)} citizens: everything that happened to them, true and false.` : ""}</p>
        </div>
      </div>
      <div class="citizen-layout">
        <Picker run={props.run} agent={props.agent} />
        <div>
          {error && <div class="card error" role="alert">{error}</div>}
          {props.agent !== null && !error && (
            <Status loading={!data}>
              {c && o && data && (
                <>
                  <div class="citizen-top">
                    <section class="card facts" id="citizen-facts">
                      <dl>
                        <dt>Region</dt><dd>{c.region} ({c.urban ? "urban" : "rural"})</dd>
                        <dt>Group</dt><dd>{c.group}</dd>
                        <dt>Age band</dt><dd>{c.age_band}</dd>
                        <dt>Final score</dt><dd><b id="final-score">{fmtNum(c.score, 1)}</b>{c.grade ? `, grade ${c.grade}` : ""}</dd>
                        <dt>Had every channel been right</dt><dd>{fmtNum(c.error_free_score, 1)}</dd>
                        <dt>Lists at end</dt><dd>{c.lists ? String(c.lists).replace(/,/g, ", ") : "none"} {c.wrongfully_listed && <span class="pill incomplete">wrongly</span>}</dd>
                        <dt>Friends</dt><dd>{fmtInt(c.friends_initial)} at start, {fmtInt(c.friends_final)} at end</dd>
                        <dt>Association points</dt><dd>{fmtNum(c.association_points, 1)}</dd>
                      </dl>
                    </section>
                    <CitizenApp app={data.app} overview={o} />
                  </div>
                  {scored.length > 1 && (
                    <Chart
                      title={`Score of citizen #${props.agent}`}
                      note="After every event that changed it; red rules mark listings, green ones delistings"
                      deps={[data]}
                      render={(width) =>
                        Plot.plot({
                          width, height: 220, marginLeft: 50,
                          style: { fontFamily: "system-ui, -apple-system, Segoe UI, sans-serif", fontSize: "11px" },
                          x: { type: "utc", label: null }, y: { grid: true, label: "score" },
                          marks: [
                            Plot.ruleX(marks, { x: "date", stroke: (d: Row) => (d.listed ? "#e03131" : "#2f9e44"), strokeDasharray: "4,3" }),
                            Plot.lineY(scored, { x: "date", y: "score", curve: "step-after", stroke: "#3b5bdb", strokeWidth: 2 }),
                            Plot.dot(scored, { x: "date", y: "score", r: 2, fill: "#3b5bdb" }),
                          ],
                        })
                      }
                    />
                  )}
                  <section class="card timeline" id="timeline">
                    <header>
                      <div><h3>Timeline</h3><p class="note">{fmtInt(data.events.length)} events{data.truncated ? ` (first of ${fmtInt(data.truncated)})` : ""}. Red: what the system got wrong.</p></div>
                      <div class="chips">
                        {labels.map((l) => (
                          <button class={hide.has(l) ? "chip off" : "chip"} onClick={() => { const h = new Set(hide); h.has(l) ? h.delete(l) : h.add(l); setHide(h); }}>{l}</button>
                        ))}
                      </div>
                    </header>
                    <ol>
                      {shown.slice(0, 1500).map((e) => (
                        <li class={`ev ${KIND_CLASS[e.label] ?? ""}${(e.kind && e.kind !== "true") || e.wrongful === 1 ? " wrong" : ""}`}>
                          <time>{e.date}</time>
                          <span class="badge">{e.label}</span>
                          <span class="text">{e.text}</span>
                        </li>
                      ))}
                    </ol>
                  </section>
                </>
              )}
            </Status>
          )}
          {props.agent === null && <div class="card hint">Pick a citizen from the list, or type an id.</div>}
        </div>
      </div>
    </>
  );
}
