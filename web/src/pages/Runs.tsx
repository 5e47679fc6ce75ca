// Every run in the folder, a form to start a new one, and its progress live (server-sent events).
import { useEffect, useState } from "preact/hooks";
import { api, type Job, type RunListing } from "../api";
import type { BundledScenario as Scenario } from "../../../src/server/api-types";
import { DataTable } from "../components/DataTable";
import { Status } from "../components/Loading";
import { fmtCompact, fmtDate, fmtInt, fmtPct } from "../format";
import { href } from "../main";

function NewRun(props: { onDone: () => void }) {
  const [scenarios, setScenarios] = useState<Scenario[]>([]);
  const [form, setForm] = useState({ scenario: "", population: 5000, days: 60, seed: 1 });
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<{ scenarios: Scenario[] }>("scenarios").then((r) => {
      setScenarios(r.scenarios);
      if (r.scenarios[0]) setForm((f) => ({ ...f, scenario: f.scenario || r.scenarios[0].name }));
    }, (e) => setError(e.message));
  }, []);

  const follow = (j: Job) => {
    setJob(j);
    const es = new EventSource(`api/jobs/${encodeURIComponent(j.id)}/events`);
    es.addEventListener("progress", (ev) => {
      const s = JSON.parse((ev as MessageEvent).data) as Job;
      setJob(s);
      if (s.status === "complete" || s.status === "failed" || s.status === "cancelled") {
        es.close();
        props.onDone();
      }
    });
    es.onerror = () => es.close();
  };

  const start = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      follow(await api<Job>("runs", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(form) }));
      props.onDone();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const cancel = async () => {
    try {
      setJob(await api<Job>(`jobs/${encodeURIComponent(job!.id)}/cancel`, { method: "POST" }));
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const running = job && (job.status === "running" || job.status === "writing");
  const pct = job?.progress ? job.progress.day / Math.max(1, job.progress.days) : 0;
  const field = (k: "population" | "days" | "seed") => (e: Event) => setForm({ ...form, [k]: Number((e.target as HTMLInputElement).value) });
  const sc = scenarios.find((s) => s.name === form.scenario);
  return (
    <section class="card new-run">
      <header><div><h3>Start a run</h3><p class="note">Simulated on this machine in a worker; the run appears below once it is complete.</p></div></header>
      <form onSubmit={start}>
        <label>Scenario
          <select name="scenario" value={form.scenario} onChange={(e) => setForm({ ...form, scenario: (e.target as HTMLSelectElement).value })}>
            {scenarios.map((s) => <option value={s.name}>{s.name}</option>)}
          </select>
        </label>
        <label>Citizens<input name="population" type="number" min={1} step={1} value={form.population} onInput={field("population")} /></label>
        <label>Days<input name="days" type="number" min={1} max={36500} value={form.days} onInput={field("days")} /></label>
        <label>Seed<input name="seed" type="number" min={0} value={form.seed} onInput={field("seed")} /></label>
        <button type="submit" class="primary" disabled={!!running}>Start run</button>
      </form>
      {sc && <p class="note">{sc.title} · rules {sc.secrecy} · scenario default {fmtInt(sc.population)} citizens × {fmtInt(sc.days)} days</p>}
      {error && <div class="error" role="alert">{error}</div>}
      {job && (
        <div class={`progress ${job.status}`} data-status={job.status}>
          <div class="bar"><div style={{ width: `${(job.status === "complete" || job.status === "writing" ? 1 : pct) * 100}%` }} /></div>
          <span>
            {job.status === "running" && job.progress && `${job.run}: day ${fmtInt(job.progress.day)} of ${fmtInt(job.progress.days)} (${job.progress.date}, ${job.progress.phase})`}
            {job.status === "running" && !job.progress && `${job.run}: building the population…`}
            {job.status === "writing" && `${job.run}: writing run.duckdb…`}
            {job.status === "complete" && <>Finished: <a href={href("run", job.run)}>{job.run}</a></>}
            {job.status === "failed" && `Failed: ${job.error}`}
            {job.status === "cancelled" && `${job.run}: cancelled; nothing was written`}
          </span>
          {job.status === "running" && <button type="button" class="ghost" id="cancel-run" onClick={() => void cancel()}>Cancel</button>}
        </div>
      )}
    </section>
  );
}

export function RunsPage() {
  const [runs, setRuns] = useState<RunListing[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [picked, setPicked] = useState<string[]>([]);
  const load = () => api<{ runs: RunListing[] }>("runs").then((r) => setRuns(r.runs), (e) => setError(e.message));
  useEffect(() => {
    void load();
  }, []);
  const toggle = (id: string) => setPicked((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p.slice(-1), id]));
  return (
    <>
      <div class="page-head">
        <div>
          <h1>Runs</h1>
          <p class="lede">Every run in the folder. Open one to see its society, follow a citizen, or tick two to compare regimes.</p>
        </div>
        <a class={`button primary${picked.length === 2 ? "" : " disabled"}`} id="compare-picked" href={picked.length === 2 ? href("compare", picked[0], picked[1]) : undefined}>
          Compare {picked.length}/2
        </a>
      </div>
      <NewRun onDone={() => void load()} />
      <Status error={error} loading={!runs}>
        <DataTable
          title="Runs"
          id="runs"
          wide
          empty="No runs yet: start one above, or `credence run <scenario> --out <this folder>/<name>`."
          rows={(runs ?? []).map((r) => ({ ...r, ...Object.fromEntries(Object.entries(r.headline).map(([k, v]) => [`h_${k}`, v])) }))}
          columns={[
            { key: "id", label: "", format: (_v, r) => r.status === "complete" ? <input type="checkbox" aria-label={`compare ${r.id}`} checked={picked.includes(r.id)} onClick={(e) => { e.stopPropagation(); toggle(r.id); }} /> : null },
            { key: "id", label: "Run", format: (v, r) => (r.status === "complete" ? <a href={href("run", v)}>{v}</a> : v) },
            { key: "name", label: "Scenario" },
            { key: "population", label: "Citizens", align: "right", format: (v) => fmtCompact(v) },
            { key: "days", label: "Days", align: "right", format: fmtInt },
            { key: "seed", label: "Seed", align: "right" },
            { key: "createdAt", label: "Date", format: fmtDate },
            { key: "status", label: "Status", format: (v, r) => <span class={`pill ${v}`} title={r.reason}>{v}</span> },
            { key: "h_blacklisted_share", label: "Blacklisted", align: "right", format: (v) => (v === undefined ? "" : fmtPct(v, 2)) },
            { key: "h_wrongful_listings", label: "Wrongful listings", align: "right", format: (v, r) => (v === undefined ? "" : `${fmtInt(v)} of ${fmtInt((r as Record<string, unknown>).h_listings)}`) },
            { key: "h_chilling", label: "Chilling", align: "right", format: (v) => (v === undefined ? "" : fmtPct(v)) },
            { key: "h_blocked_flights_per_capita", label: "Flights blocked /1k", align: "right", format: (v) => (v === undefined ? "" : v === null ? "—" : (v * 1000).toFixed(2)) },
          ]}
        />
      </Status>
    </>
  );
}
