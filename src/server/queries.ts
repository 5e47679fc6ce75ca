// What the dashboard asks of a run: small aggregate queries on run.duckdb, never a whole
// population. Each database is opened read-only once, through openRunDatabase (which refuses
// a file Credence did not write), and kept in a small cache; a run that is replaced (a new
// manifest or database) gets a fresh connection.
import { lstatSync } from "node:fs";
import { join } from "node:path";
import type { ReadOnlyDatabase } from "../io/duckdb.js";
import { ForeignDatabaseError, openRunDatabase } from "../io/open-db.js";
import { readManifest, type Manifest } from "../io/run-folder.js";
import { describeEvents, loadExplanation, type Row } from "../cli/explain.js";
import { columnName } from "../engine/counters.js";
import { listKindMetrics, listMetrics } from "../metrics/list-metrics.js";
import { HttpError } from "./http.js";

type Rows = Record<string, unknown>[];

interface Entry {
  key: string;
  manifest: Manifest;
  db: ReadOnlyDatabase;
  /** Queries on one connection run one after another. */
  chain: Promise<unknown>;
  columns: Map<string, Set<string>>;
}

/**
 * What identifies the files of run folder `dir` as they are now (null without a manifest).
 * A manifest that is a symbolic link is refused: the server serves no link inside a run folder.
 */
function filesKey(dir: string): string | null {
  const manifest = lstatSync(join(dir, "manifest.json"), { throwIfNoEntry: false });
  if (!manifest) return null;
  if (!manifest.isFile()) throw new HttpError(403, `${dir.split(/[\\/]/).pop()}: manifest.json is not a regular file`);
  const db = lstatSync(join(dir, "run.duckdb"), { throwIfNoEntry: false });
  return `${dir}\0${manifest.mtimeMs}\0${db?.mtimeMs}\0${db?.size}`;
}

/** The open runs, least recently used first. */
export class RunCache {
  private entries = new Map<string, Entry>();
  /** Why a run folder's database was refused (null: accepted), by folder, for its files as they were. */
  private verdicts = new Map<string, { key: string; problem: string | null }>();
  constructor(private max = 8) {}

  /**
   * Why the complete run in real folder `dir` cannot be shown (its database is not one
   * Credence wrote), or null. Checked once per version of its files; a refusal is logged then.
   */
  async problem(dir: string): Promise<string | null> {
    try {
      const known = this.verdicts.get(dir);
      if (known && known.key === filesKey(dir)) return known.problem;
      await this.open(dir);
      return null;
    } catch (e) {
      if (e instanceof HttpError) return e.message;
      throw e;
    }
  }

  private remember(dir: string, key: string, problem: string | null): void {
    if (problem !== null && this.verdicts.get(dir)?.problem !== problem) {
      process.stderr.write(`credence serve: not showing ${dir.split(/[\\/]/).pop()}: ${problem}\n`);
    }
    this.verdicts.set(dir, { key, problem });
    if (this.verdicts.size > 10_000) this.verdicts.delete(this.verdicts.keys().next().value!);
  }

  /** The complete run in real folder `dir` (409 when it is not complete, 422 when Credence did not write it). */
  async open(dir: string): Promise<Run> {
    const key = filesKey(dir);
    if (key === null) throw new HttpError(404, `${dir.split(/[\\/]/).pop()} is not a run folder (no manifest.json)`);
    const refused = this.verdicts.get(dir);
    if (refused?.key === key && refused.problem !== null) throw new HttpError(422, refused.problem);
    let e = this.entries.get(dir);
    if (e && e.key !== key) {
      this.entries.delete(dir);
      e.db.close();
      e = undefined;
    }
    if (!e) {
      let manifest: Manifest;
      try {
        manifest = readManifest(dir, { allowIncomplete: true });
      } catch (err) {
        throw new HttpError(404, (err as Error).message);
      }
      if (manifest.status !== "complete") throw new HttpError(409, `the run is ${manifest.status} (${manifest.reason ?? "no reason recorded"}); only complete runs can be shown`);
      let db: ReadOnlyDatabase;
      try {
        db = await openRunDatabase(dir, manifest);
      } catch (err) {
        if (!(err instanceof ForeignDatabaseError)) throw err;
        const problem = `not a run Credence wrote: ${err.message}`;
        this.remember(dir, key, problem);
        throw new HttpError(422, problem);
      }
      this.remember(dir, key, null);
      e = { key, manifest, db, chain: Promise.resolve(), columns: new Map() };
      const cols = await db.query("SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'main'");
      for (const c of cols) {
        const t = String(c.table_name);
        if (!e.columns.has(t)) e.columns.set(t, new Set());
        e.columns.get(t)!.add(String(c.column_name));
      }
      while (this.entries.size >= this.max) {
        const [oldest, old] = this.entries.entries().next().value as [string, Entry];
        this.entries.delete(oldest);
        void old.chain.finally(() => old.db.close());
      }
    } else this.entries.delete(dir); // re-insert: most recently used last
    this.entries.set(dir, e);
    return new Run(e);
  }

  closeAll(): void {
    for (const e of this.entries.values()) e.db.close();
    this.entries.clear();
  }
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Flow metrics sum over days; these are stocks (state at the end of a day) or averages. */
const isStock = (c: string) => /^(on_|wrongful_|via_association_|blacklisted|redlisted|population|mean_score|score_sum|income_sum|appeals_queued|firms_|region_watch_max)/.test(c);

export class Run {
  constructor(private e: Entry) {}
  get manifest(): Manifest {
    return this.e.manifest;
  }
  columns(table: string): Set<string> {
    return this.e.columns.get(table) ?? new Set();
  }

  query(sql: string, params?: unknown[]): Promise<Rows> {
    const next = this.e.chain.then(() => this.e.db.query(sql, params));
    this.e.chain = next.catch(() => undefined);
    return next;
  }

  lists(): { id: string; kind: "black" | "red"; reported?: boolean }[] {
    return (this.manifest.scenario?.lists ?? []).map((l) => ({ id: l.id, kind: l.kind, ...(l.reported === undefined ? {} : { reported: l.reported }) }));
  }

  /** SQL for a daily metric: a column, or a derived sum over the lists of one kind. */
  private metricSql(name: string, table: string): string {
    const cols = this.columns(table);
    if (cols.has(name) && name !== "day" && name !== "date") return quote(name);
    const derived = /^(on|wrongful|via_association)_(black|red)$/.exec(name);
    if (derived) {
      const role = ({ on: "on", wrongful: "wrongful", via_association: "viaAssociation" } as const)[derived[1] as "on" | "wrongful" | "via_association"];
      // The run's sum over the kind, when it has one (some list without columns of its own).
      const sum = columnName(listKindMetrics(derived[2] as "black" | "red")[role].name);
      if (cols.has(sum)) return quote(sum);
      const ids = this.lists().filter((l) => l.kind === derived[2]).map((l) => columnName(listMetrics(l.id)[role].name)).filter((c) => cols.has(c));
      return ids.length ? ids.map(quote).join(" + ") : "0";
    }
    throw new HttpError(400, `parameter "metrics": ${JSON.stringify(name.slice(0, 80))} is not a metric of ${table} (see /api/runs/<run>/overview)`);
  }

  /** Daily values of the named metrics, whole population. */
  async series(metrics: string[]): Promise<Rows> {
    const select = metrics.map((m) => `${this.metricSql(m, "daily")} AS ${quote(m)}`).join(", ");
    return this.query(`SELECT day, date, ${select} FROM daily ORDER BY day`);
  }

  /** Score distribution on `day` (default: the last recorded) by group or region. */
  async distribution(by: "group" | "region", day: number | null): Promise<{ day: number; days: number[]; rows: Rows }> {
    const days = (await this.query("SELECT DISTINCT day FROM score_distribution ORDER BY day")).map((r) => Number(r.day));
    const d = day ?? days[days.length - 1] ?? 0;
    if (day !== null && !days.includes(day)) throw new HttpError(400, `parameter "day": the distribution is recorded on days ${days.join(", ")}, not ${day}`);
    const col = by === "group" ? `"group"` : "region";
    const rows = await this.query(
      `SELECT ${col} AS key, bin_low, bin_high, sum(count) AS count FROM score_distribution WHERE day = ? GROUP BY ALL ORDER BY key, bin_low`,
      [d],
    );
    return { day: d, days, rows };
  }

  /** One value per region: stocks on the last day, flows summed over the run, chilling over the run. */
  async regions(metric: string): Promise<Rows> {
    const cols = this.columns("daily_region");
    if (metric === "chilling") {
      return this.query(
        `SELECT region, 1 - sum(speech_acts) / nullif(sum(speech_baseline), 0) AS value, max(population) AS population FROM daily_region GROUP BY region ORDER BY region`,
      );
    }
    const expr = this.metricSql(metric, "daily_region");
    void cols;
    const stock = isStock(metric) || /^(on|wrongful|via_association)_(black|red)$/.test(metric);
    if (stock) {
      return this.query(
        `SELECT region, ${expr} AS value, population FROM daily_region WHERE day = (SELECT max(day) FROM daily_region) ORDER BY region`,
      );
    }
    return this.query(`SELECT region, sum(${expr}) AS value, max(population) AS population FROM daily_region GROUP BY region ORDER BY region`);
  }

  targets(): Promise<Rows> {
    return this.query("SELECT metric, target, tolerance, simulated, pass, source FROM targets ORDER BY metric");
  }

  /** Interesting citizens of the trail sample, or the one whose id is `agent`. */
  async citizens(filter: "wrongful" | "association" | "stuck" | "misattributed" | "any", agent: number | null, limit: number): Promise<Rows> {
    const black = this.lists().filter((l) => l.kind === "black").map((l) => l.id);
    const blackIn = black.length ? black.map((b) => `'${b.replace(/'/g, "''")}'`).join(", ") : "NULL";
    const pick: Record<typeof filter, string> = {
      wrongful: `SELECT agent, min(day) AS day FROM trail WHERE event = 'listed' AND wrongful = 1 GROUP BY agent`,
      association: `SELECT agent, min(day) AS day FROM list_events WHERE event = 'enter' AND via_association GROUP BY agent`,
      stuck: `SELECT agent, min(day) AS day FROM trail WHERE event IN ('listed', 'delisted') AND list IN (${blackIn})
              GROUP BY agent HAVING count(*) FILTER (WHERE event = 'delisted') = 0`,
      misattributed: `SELECT agent, min(day) AS day FROM trail WHERE event = 'observed' AND kind <> 'true' GROUP BY agent`,
      any: `SELECT agent, 0 AS day FROM citizens`,
    };
    const where = agent === null ? "" : "WHERE c.agent = ?";
    return this.query(
      `SELECT c.agent, c.region, c."group", c.score, c.grade, c.lists, c.wrongfully_listed,
              c.friends_initial - c.friends_final AS friends_lost, p.day AS since
       FROM (${agent === null ? pick[filter] : pick.any}) p JOIN citizens c USING (agent) ${where}
       ORDER BY p.day, c.agent LIMIT ${limit}`,
      agent === null ? undefined : [agent],
    );
  }

  /** One citizen's trail in words, plus what their "citizen app" would show them. */
  async citizen(agent: number, dir: string): Promise<unknown> {
    const x = await loadExplanation(dir, agent, {
      readManifest: () => this.manifest,
      queryRows: (_db, sql, params) => this.query(sql, params),
    }).catch((e: Error) => {
      throw new HttpError(404, e.message);
    });
    const MAX = 5000;
    const events = x.events.slice(0, MAX);
    const described = describeEvents(events, x.context);
    return {
      citizen: x.citizen,
      truncated: x.events.length > MAX ? x.events.length : 0,
      events: events.map((r, i) => ({ ...r, label: described[i][0], text: described[i][1] })),
      app: citizenApp(this.manifest, x.citizen, x.events),
    };
  }
}

/**
 * What the citizen would see in the regime's app: under published rules the score, grade,
 * lists and the recorded reasons (the system's record, not the truth); under secret rules a
 * bare score and grade, and a list only once they learned of it by being blocked.
 */
function citizenApp(manifest: Manifest, c: Row, events: Row[]) {
  const secrecy = manifest.scenario?.scoring?.secrecy ?? "secret";
  const lists = String(c.lists ?? "").split(",").filter(Boolean);
  const base = { secrecy, score: c.score, grade: c.grade, initial: manifest.scenario?.scoring?.initial };
  if (secrecy === "secret") {
    const learned = events.some((e) => e.event === "blocked");
    return { ...base, lists: learned ? lists : [], reasons: [] };
  }
  const reasons = events
    .filter((e) => (e.event === "points" || e.event === "association" || e.event === "correction") && Number(e.points) !== 0)
    .slice(-50)
    .map((e) => ({ date: e.date, points: e.points, what: e.event === "association" ? `a contact's ${e.behaviour ?? "act"}` : String(e.behaviour ?? e.event) }));
  return { ...base, lists, reasons };
}
