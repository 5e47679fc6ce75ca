// The durable record of finished simulations: `results.jsonl` in the experiment folder, one
// JSON line per point-replicate, appended and fsynced as each one finishes. It is what lets a
// killed sweep resume: a re-run reads it and skips every task whose id is already there. A
// line cut short by a kill is ignored (that task simply runs again); any other line that is
// not a valid result (bad JSON, or refused by the caller's check) is skipped with a warning, so
// its task runs again too.
import fs from "node:fs";
import path from "node:path";

export const RESULTS_FILE = "results.jsonl";

export interface TaskResult {
  /** Task id (see points.ts): the same id means the same simulation. */
  id: string;
  point: number;
  replicate: number;
  seed: number;
  /** The experiment's metrics from the run's summary (null where a metric was not a number). */
  metrics: Record<string, number | null>;
  /** Wall seconds of the simulation. */
  seconds: number;
  /** Who ran it: "local" or the queue worker's name. */
  by: string;
}

export class ResultLog {
  private readonly byId = new Map<string, TaskResult>();
  private fd: number;

  /**
   * `check` returns the result a line holds, or throws naming what is wrong with it; `onSkipped`
   * hears of each line skipped (1-based line number and why).
   */
  private constructor(readonly file: string, check: (value: unknown) => TaskResult, onSkipped: (line: number, reason: string) => void) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    let text = "";
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    const lines = text.split("\n");
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        if (i < lines.length - 1) onSkipped(i + 1, "not a JSON line"); // the last one may be cut short by a kill: no news
        return;
      }
      try {
        const r = check(value);
        if (this.byId.has(r.id)) onSkipped(i + 1, `a second result for point ${r.point} replicate ${r.replicate} (the first is kept)`);
        else this.byId.set(r.id, r);
      } catch (e) {
        onSkipped(i + 1, (e as Error).message);
      }
    });
    this.fd = fs.openSync(file, "a");
    // After a torn last line, start the next record on a line of its own.
    if (text.length && !text.endsWith("\n")) fs.writeSync(this.fd, "\n");
  }

  static open(dir: string, check: (value: unknown) => TaskResult, onSkipped: (line: number, reason: string) => void = () => undefined): ResultLog {
    return new ResultLog(path.join(dir, RESULTS_FILE), check, onSkipped);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): TaskResult | undefined {
    return this.byId.get(id);
  }

  get size(): number {
    return this.byId.size;
  }

  /** Appends and fsyncs one result; a second result for the same id is ignored (first one wins). */
  append(r: TaskResult): boolean {
    if (this.byId.has(r.id)) return false;
    fs.writeSync(this.fd, JSON.stringify(r) + "\n");
    fs.fsyncSync(this.fd);
    this.byId.set(r.id, r);
    return true;
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}
