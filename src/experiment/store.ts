// The durable record of finished simulations: `results.jsonl` in the experiment folder, one
// JSON line per point-replicate, appended and fsynced as each one finishes. It is what lets a
// killed sweep resume: a re-run reads it and skips every task whose id is already there. A
// line cut short by a kill is ignored (that task simply runs again).
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

  private constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    let text = "";
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      try {
        const r = JSON.parse(line) as TaskResult;
        if (typeof r.id === "string" && r.metrics && typeof r.metrics === "object") this.byId.set(r.id, r);
      } catch {
        // a line cut short by a kill
      }
    }
    this.fd = fs.openSync(file, "a");
    // After a torn last line, start the next record on a line of its own.
    if (text.length && !text.endsWith("\n")) fs.writeSync(this.fd, "\n");
  }

  static open(dir: string): ResultLog {
    return new ResultLog(path.join(dir, RESULTS_FILE));
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
