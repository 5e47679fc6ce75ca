// Runs started from the dashboard: checked against free memory, run with the library's run()
// (run/run.ts: simulated in a worker thread, so the server stays responsive; the run folder
// written atomically, appearing only once complete), followed by any number of listeners (the
// server-sent event streams), and cancelled on request through run()'s AbortSignal (the worker
// is ended; nothing has been written yet).
import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { formatProblem, loadScenario } from "../scenario/load.js";
import { runLimitProblems, thisMachine, type Machine } from "../scenario/limits.js";
import { run as runLibrary } from "../run/run.js";
import { HttpError } from "./http.js";
import type { BundledScenario, Job, RunListing } from "./api-types.js";
export type { BundledScenario, Job, RunListing };

/** A run started from the page, as the server keeps it. */
export interface JobState extends Job {
  startedAt: string;
}


/** The bundled scenarios that load (invalid ones are left out). */
export function bundledScenarios(dir: string): BundledScenario[] {
  if (!existsSync(dir)) return [];
  const out: BundledScenario[] = [];
  for (const f of readdirSync(dir).filter((f) => /\.ya?ml$/i.test(f)).sort()) {
    try {
      const s = loadScenario(join(dir, f));
      out.push({ file: f, name: s.name, title: s.title ?? "", population: s.population.size, days: s.days, secrecy: s.scoring.secrecy });
    } catch {
      // `credence validate` reports it; the dashboard offers only scenarios that run
    }
  }
  return out;
}

type Listener = (job: JobState) => void;

interface JobEntry {
  state: JobState;
  listeners: Set<Listener>;
  /** Stops the run while it simulates (run()'s AbortSignal). */
  controller: AbortController;
  /** Why it was stopped: the job's error once cancelled. */
  cancelled?: string;
  /** Settles once the job's state is final. */
  done: Promise<void>;
}

export class Jobs {
  private jobs = new Map<string, JobEntry>();
  private counter = 0;

  constructor(private runsRoot: string, private scenariosDir: string, private version: string, private machine: () => Machine = thisMachine, private maxRunning = 1) {}

  list(): JobState[] {
    return [...this.jobs.values()].map((j) => j.state);
  }

  get(id: string): JobState {
    const j = this.jobs.get(id);
    if (!j) throw new HttpError(404, `no job ${JSON.stringify(id.slice(0, 40))}`);
    return j.state;
  }

  /** A free run folder name for this scenario and size. */
  private folderName(scenario: string, population: number, days: number, seed: number): string {
    const base = `${scenario}-${population}x${days}-s${seed}`.replace(/[^A-Za-z0-9._-]/g, "-");
    const taken = (n: string) => existsSync(join(this.runsRoot, n)) || this.list().some((j) => j.run === n && (j.status === "running" || j.status === "writing" || j.status === "complete"));
    let name = base;
    for (let i = 2; taken(name); i++) name = `${base}-${i}`;
    return name;
  }

  start(req: { scenario: string; population: number; days: number; seed: number }): JobState {
    const running = this.list().filter((j) => j.status === "running" || j.status === "writing").length;
    if (running >= this.maxRunning) {
      throw new HttpError(429, `${running} run${running === 1 ? " is" : "s are"} already in progress; wait for ${running === 1 ? "it" : "them"} to finish`, { "Retry-After": "5" });
    }
    const scenarios = bundledScenarios(this.scenariosDir);
    const sc = scenarios.find((s) => s.name === req.scenario || s.file === req.scenario);
    if (!sc) throw new HttpError(400, `parameter "scenario": expected one of ${scenarios.map((s) => s.name).join(", ")}, got ${JSON.stringify(String(req.scenario).slice(0, 80))}`);
    const file = join(this.scenariosDir, sc.file);
    const scenario = loadScenario(file);
    // The same estimate `credence run` makes: a run that cannot fit would take the server down with it.
    const tooBig = runLimitProblems(scenario, { population: req.population, days: req.days, where: { population: "population", days: "days" } }, this.machine());
    if (tooBig.length) throw new HttpError(422, `the run does not fit in this machine's free memory:\n${tooBig.map(formatProblem).join("\n")}`);
    const id = `job-${++this.counter}`;
    const run = this.folderName(sc.name, req.population, req.days, req.seed);
    const state: JobState = {
      id, run, scenario: sc.name, population: req.population, days: req.days, seed: req.seed,
      status: "running", progress: null, startedAt: new Date().toISOString(),
    };
    const controller = new AbortController();
    const job: JobEntry = { state, listeners: new Set<Listener>(), controller, done: Promise.resolve() };
    this.jobs.set(id, job);
    const emit = () => {
      for (const l of job.listeners) l(state);
    };
    let lastEmit = 0;
    const outcome = runLibrary(scenario, {
      population: req.population, days: req.days, seed: req.seed,
      out: join(this.runsRoot, run), version: this.version, scenarioPath: file,
      machine: this.machine(), signal: controller.signal,
      onProgress: (p) => {
        state.progress = { day: p.day, days: p.days, date: p.date, phase: p.phase, elapsedSeconds: p.elapsedSeconds };
        const now = Date.now();
        if (now - lastEmit > 100 || p.day === p.days) {
          lastEmit = now;
          emit();
        }
      },
      onWrite: () => {
        state.status = "writing";
        emit();
      },
    });
    job.done = (async () => {
      try {
        const o = await outcome;
        if (o.status === "complete") state.status = "complete";
        else {
          state.status = "cancelled";
          state.error = job.cancelled ?? "cancelled";
        }
      } catch (e) {
        state.status = "failed";
        state.error = (e as Error).message;
      }
      emit();
    })();
    return state;
  }

  /**
   * Cancels job `id` while it simulates: its worker is ended and no run folder is written. 409
   * once it is writing (the folder appears complete in a moment, or not at all) or has ended.
   */
  async cancel(id: string): Promise<JobState> {
    const j = this.jobs.get(id);
    if (!j) throw new HttpError(404, `no job ${JSON.stringify(id.slice(0, 40))}`);
    if (j.state.status !== "running") throw new HttpError(409, `job ${id} is ${j.state.status}; only a run still simulating can be cancelled`);
    j.cancelled = "cancelled from the dashboard";
    j.controller.abort();
    await j.done;
    return j.state;
  }

  /** Calls `listener` on every change of job `id` until it returns; returns the unsubscribe. */
  subscribe(id: string, listener: Listener): () => void {
    const j = this.jobs.get(id);
    if (!j) throw new HttpError(404, `no job ${JSON.stringify(id.slice(0, 40))}`);
    j.listeners.add(listener);
    return () => j.listeners.delete(listener);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.jobs.values()].filter((j) => j.state.status === "running").map((j) => {
      j.cancelled = "the server stopped";
      j.controller.abort();
      return j.done;
    }));
  }
}


/**
 * Every run folder directly inside `runsRoot` (by its manifest), newest first, and the runs in
 * progress. Symbolic links are not followed (neither a linked folder nor a linked manifest).
 */
export function listRuns(runsRoot: string, jobs: JobState[]): RunListing[] {
  const out: RunListing[] = [];
  for (const name of existsSync(runsRoot) ? readdirSync(runsRoot) : []) {
    if (name.startsWith(".") || name.includes(".partial-")) continue; // half-written folders are not runs
    const dir = join(runsRoot, name);
    let m: Record<string, any>;
    try {
      if (!lstatSync(dir).isDirectory() || !lstatSync(join(dir, "manifest.json")).isFile()) continue;
      m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    } catch {
      continue;
    }
    const complete = m.status === "complete" && existsSync(join(dir, "run.duckdb"));
    const metrics: Record<string, number> = m.summary?.metrics ?? {};
    const lists: { kind: string; wrongfulEnd: number; onListEnd: number }[] = m.summary?.lists ?? [];
    const black = lists.filter((l) => l.kind === "black");
    out.push({
      id: basename(dir),
      status: complete ? "complete" : "incomplete",
      ...(complete ? {} : { reason: m.status === "complete" ? "run.duckdb is missing" : m.reason ?? "no reason recorded" }),
      name: String(m.name ?? "?"),
      title: m.scenario?.title,
      population: Number(m.population ?? 0),
      days: Number(m.days ?? 0),
      seed: Number(m.seed ?? 0),
      createdAt: String(m.createdAt ?? ""),
      headline: complete
        ? {
            blacklisted_share: metrics.blacklisted_share ?? 0,
            wrongful_listings: black.reduce((s, l) => s + (l.wrongfulEnd ?? 0), 0),
            listings: black.reduce((s, l) => s + (l.onListEnd ?? 0), 0),
            chilling: metrics.chilling ?? 0,
            blocked_flights_per_capita: metrics["blocked_per_capita.flights"] ?? 0,
          }
        : {},
    });
  }
  for (const j of jobs) {
    if ((j.status !== "running" && j.status !== "writing") || out.some((r) => r.id === j.run)) continue;
    out.push({ id: j.run, status: "running", name: j.scenario, population: j.population, days: j.days, seed: j.seed, createdAt: j.startedAt, headline: {} });
  }
  return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}
