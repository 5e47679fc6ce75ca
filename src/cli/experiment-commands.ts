// The experiment commands: `sweep` runs an experiment file (on this machine's cores, or
// through a Redis queue), `worker` takes queued points on any machine, `plot` draws a metric
// against a parameter from a finished experiment folder.
import { Command, Option } from "commander";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { ScenarioError } from "../scenario/load.js";
import { CliError, displayPath, intArg, printScenarioError, toJson } from "./common.js";
import { fmtDuration, fmtInt } from "./format.js";
import type { ParamValue } from "../experiment/spec.js";
import type { QueueWorker } from "../experiment/queue.js";
import type { TaskResult } from "../experiment/store.js";

const sig4 = (v: number | null | undefined): string => (v === null || v === undefined || !Number.isFinite(v) ? "—" : Number(v.toPrecision(4)).toString());
const showValues = (values: Record<string, ParamValue>) => Object.entries(values).map(([k, v]) => `${k}=${typeof v === "number" ? sig4(v) : String(v)}`).join("  ");

// ---------------------------------------------------------------------------------------------
// Progress for a whole experiment: point-replicates done, points done, time left.

interface SweepProgress {
  plan(total: number, alreadyDone: number, points: number, pointsDone: number): void;
  taskDone(): void;
  pointDone(): void;
  fraction(taskId: string, f: number): void;
  note(line: string): void;
  done(): void;
}

function sweepProgress(stream: NodeJS.WriteStream, quiet: boolean): SweepProgress {
  const tty = Boolean(stream.isTTY);
  let total = 0, done = 0, startDone = 0, points = 0, pointsDone = 0;
  const partial = new Map<string, number>();
  const t0 = Date.now();
  let lastDraw = 0, drawn = false, lastTenth = -1;
  const line = (withBar: boolean) => {
    const inFlight = [...partial.values()].reduce((a, b) => a + b, 0);
    const progressed = done - startDone + inFlight;
    const elapsed = (Date.now() - t0) / 1000;
    const left = progressed > 0 ? (elapsed / progressed) * (total - done - inFlight) : NaN;
    const share = total ? done / total : 1;
    const bar = withBar ? `[${"#".repeat(Math.round(share * 24))}${".".repeat(24 - Math.round(share * 24))}]  ` : "";
    return `${bar}points ${fmtInt(pointsDone)}/${fmtInt(points)}  runs ${fmtInt(done)}/${fmtInt(total)}  ${(share * 100).toFixed(0)}%` +
      (Number.isFinite(left) && done < total ? `  ${fmtDuration(left)} left` : "");
  };
  const draw = (force = false) => {
    if (quiet) return;
    if (tty) {
      if (!force && Date.now() - lastDraw < 200) return;
      lastDraw = Date.now();
      stream.write(`\r\x1b[2K${line(true)}`);
      drawn = true;
      return;
    }
    const tenth = total ? Math.floor((10 * done) / total) : 10;
    if (tenth > lastTenth) {
      lastTenth = tenth;
      stream.write(line(false) + "\n");
    }
  };
  const clear = () => {
    if (tty && drawn) stream.write("\r\x1b[2K");
    drawn = false;
  };
  return {
    plan(t, already, p, pd) {
      total = t; done = startDone = already; points = p; pointsDone = pd;
      lastTenth = total ? Math.floor((10 * done) / total) - 1 : -1;
      draw(true);
    },
    taskDone() { done++; draw(); },
    pointDone() { pointsDone++; draw(true); },
    fraction(id, f) {
      if (f >= 1) partial.delete(id);
      else partial.set(id, f);
      draw();
    },
    note(text) {
      clear();
      process.stdout.write(text + "\n");
      draw(true);
    },
    done() { clear(); },
  };
}

// ---------------------------------------------------------------------------------------------
// credence sweep

interface SweepOpts {
  workers: number;
  queue?: string;
  queueName?: string;
  attempts: number;
  out?: string;
  quiet?: boolean;
  json?: boolean;
}

async function sweepCommand(file: string, opts: SweepOpts, version: string): Promise<number> {
  const [{ loadExperiment }, { plan: makePlan }, { startSweep }, { meanInterval }, { redactUrl }] = await Promise.all([
    import("../experiment/spec.js"), import("../experiment/points.js"), import("../experiment/sweep.js"), import("../experiment/results.js"),
    import("../experiment/queue.js"),
  ]);
  let plan;
  try {
    plan = makePlan(loadExperiment(file));
  } catch (e) {
    if (e instanceof ScenarioError) {
      printScenarioError(e, process.stderr);
      return 2;
    }
    throw e;
  }
  const x = plan.experiment;
  const out = resolve(opts.out ?? join("experiments", "runs", x.name));
  const progress = sweepProgress(process.stderr, Boolean(opts.quiet || opts.json));
  const say = (text: string) => (opts.json ? undefined : progress.note(text));
  const queueShown = opts.queue ? redactUrl(opts.queue) : ""; // never the password
  const where = opts.queue ? `queue ${queueShown}` : `${opts.workers} local worker${opts.workers === 1 ? "" : "s"}`;
  if (!opts.json) {
    process.stderr.write(`${x.name}: ${fmtInt(plan.points.length)} points x ${fmtInt(x.replicates)} replicates of ${x.baseScenario.name} ` +
      `(${fmtInt(x.population)} citizens, ${fmtInt(x.days)} days) on ${where} -> ${displayPath(out)}\n`);
  }

  const pointsTotal = plan.points.length;
  let sweep;
  try {
    sweep = startSweep(plan, {
      out,
      version,
      workers: opts.workers,
      queue: opts.queue ? { url: opts.queue, queueName: opts.queueName, attempts: opts.attempts } : undefined,
      events: {
        onPlan: (total, already, pointsDone) => {
          progress.plan(total, already, pointsTotal, pointsDone);
          if (already && !opts.json) say(`resuming: ${fmtInt(already)} of ${fmtInt(total)} point-replicates already finished in ${displayPath(out)}`);
        },
        onTaskDone: () => progress.taskDone(),
        onFraction: (task, f) => progress.fraction(task.id, f),
        onPointDone: (point, results: TaskResult[]) => {
          progress.pointDone();
          const stats = x.metrics.slice(0, 3).map((m) => {
            const iv = meanInterval(results.map((r) => r.metrics[m]).filter((v): v is number => typeof v === "number"));
            return `${m} ${sig4(iv.mean)}` + (Number.isFinite(iv.low) ? ` [${sig4(iv.low)}, ${sig4(iv.high)}]` : "");
          });
          const secs = results.reduce((a, r) => a + r.seconds, 0);
          say(`point ${point + 1}/${pointsTotal}  ${showValues(plan.points[point].values)}  ->  ${stats.join("  ")}  (${results.length} runs, ${fmtDuration(secs)} of simulation)`);
        },
        onFailed: (task, reason) => {
          process.stderr.write(`\ncredence: point ${task.point + 1} replicate ${task.replicate} (seed ${task.seed}) failed: ${reason}\n`);
        },
        onRejected: (task, reason, retried) => {
          process.stderr.write(`\ncredence: point ${task.point + 1} replicate ${task.replicate}: ${reason}; not stored, ${retried ? "queued again" : "reported as failed"}\n`);
        },
        onUnknownJob: (id) => {
          process.stderr.write(`\ncredence: warning: ignored a finished job ${JSON.stringify(id)} on the queue: not a point-replicate of this sweep\n`);
        },
        onSkippedLine: (file, line, reason) => {
          process.stderr.write(`credence: warning: ${displayPath(file)} line ${line} skipped (${reason}); its point-replicate runs again\n`);
        },
        onNoWorkers: () => say(`no worker is connected to ${queueShown} yet: start \`npx credence worker --queue ${queueShown}\` on each machine`),
        onWriting: () => {
          progress.done();
          if (!opts.json) process.stderr.write(`writing ${displayPath(join(out, "experiment.duckdb"))} and Parquet files ...\n`);
        },
      },
    });
  } catch (e) {
    progress.done();
    throw new CliError((e as Error).message);
  }

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    const code = signal === "SIGINT" ? 130 : 143;
    if (stopping) process.exit(code);
    stopping = true;
    progress.done();
    void sweep.stop(`interrupted by ${signal}`).finally(() => {
      process.stderr.write(`\ncredence: ${signal}: sweep stopped; finished point-replicates are kept in ${displayPath(out)}; run the same command again to resume.\n`);
      process.exit(code);
    });
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const started = Date.now();
  let outcome;
  try {
    outcome = await sweep.done;
  } catch (e) {
    progress.done();
    if (stopping) return new Promise<number>(() => undefined); // the signal handler exits
    throw e;
  } finally {
    progress.done();
  }
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  const m = outcome.manifest;
  if (opts.json) {
    process.stdout.write(toJson({ folder: displayPath(out), ...m }) + "\n");
  } else {
    const lines = [
      "",
      `${m.status === "complete" ? "Complete" : "INCOMPLETE"}: ${fmtInt(m.finished)} of ${fmtInt(m.tasks)} point-replicates (${fmtInt(outcome.ran)} run now, ${fmtInt(m.finished - outcome.ran)} found finished) in ${fmtDuration((Date.now() - started) / 1000)}` +
        (m.reason ? ` — ${m.reason}` : ""),
      `Experiment folder: ${displayPath(out)}  (experiment.duckdb: runs, points, summary; parquet/; manifest.json; results.jsonl)`,
      `Plot: npx credence plot ${displayPath(out)} --x ${x.parameters[0].path} --y ${x.metrics[0]}` + (x.parameters[1] ? ` --by ${x.parameters[1].path}` : ""),
    ];
    process.stdout.write(lines.join("\n") + "\n");
  }
  return m.status === "complete" ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// credence worker

interface WorkerOpts {
  queue: string;
  queueName?: string;
  workers: number;
  idle: number;
  lockDuration: number;
  stalledInterval: number;
  redisTimeout: number;
}

async function workerCommand(opts: WorkerOpts): Promise<number> {
  const { startQueueWorker, redactUrl } = await import("../experiment/queue.js");
  const queueShown = redactUrl(opts.queue); // never the password
  const said = new Set<string>();
  let w: QueueWorker;
  try {
    w = startQueueWorker({
      url: opts.queue,
      queueName: opts.queueName,
      concurrency: opts.workers,
      idleSeconds: opts.idle,
      lockDurationMs: opts.lockDuration,
      stalledIntervalMs: opts.stalledInterval,
      redisTimeoutSeconds: opts.redisTimeout,
      onReady: () => process.stdout.write(`worker ${w.name} taking points from ${queueShown} (${opts.workers} at a time); leaves when the queue has been empty for ${opts.idle} s, ` +
        `or when Redis has not answered for ${opts.redisTimeout} s\n`),
      onStart: (job) => process.stdout.write(`start point ${job.task.point + 1} replicate ${job.task.replicate} (${job.scenario.name}, seed ${job.task.seed})\n`),
      onDone: (r) => process.stdout.write(`done  point ${r.point + 1} replicate ${r.replicate} in ${fmtDuration(r.seconds)}\n`),
      onError: (job, e) => {
        if (job) process.stderr.write(`credence: point ${job.task.point + 1} replicate ${job.task.replicate} failed: ${e.message}\n`);
        else if (!said.has(e.message)) process.stderr.write(`credence: queue: ${e.message}\n`); // ioredis repeats connection errors on every retry
        said.add(e.message);
      },
      onRefused: (reason) => process.stderr.write(`credence: ${reason}\n`),
      onRedisLost: (seconds) => process.stderr.write(`credence: Redis at ${queueShown} is not answering; retrying for up to ${seconds} s\n`),
      onRedisBack: () => {
        process.stderr.write(`credence: Redis at ${queueShown} is back\n`);
        said.clear();
      },
    });
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  // Stopping takes a few seconds at most (queue.ts); this deadline covers whatever might still hang.
  const exitSoon = (code: number) => setTimeout(() => process.exit(code), 5000).unref();
  const onSignal = (signal: NodeJS.Signals) => {
    const code = signal === "SIGINT" ? 130 : 143;
    process.stderr.write(`\ncredence: ${signal}: worker stopping; its running points go back to the queue\n`);
    exitSoon(code);
    void w.stop().finally(() => process.exit(code));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let n: number;
  try {
    n = await w.done;
  } catch (e) {
    exitSoon(1);
    throw new CliError((e as Error).message);
  }
  process.stdout.write(`queue empty: ${fmtInt(n)} point-replicate${n === 1 ? "" : "s"} simulated by this worker\n`);
  exitSoon(0);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// credence plot

/** Unit and scale of a summary metric, from its key (see metrics/summary.ts). */
export function metricUnit(key: string): { unit: string; percent: boolean } {
  const base = key.split(".")[0];
  if (/share|isolation_of_listed|chilling|appeal_success_rate/.test(base)) return { unit: "%", percent: true };
  if (/per_capita/.test(base)) return { unit: "per person-year", percent: false };
  if (/days/.test(base)) return { unit: "days", percent: false };
  if (/income_ratio/.test(base)) return { unit: "ratio to the unlisted", percent: false };
  if (base === "mean_score") return { unit: "points", percent: false };
  return { unit: "", percent: false };
}

interface PlotOpts {
  x: string;
  y: string;
  by?: string;
  where: string[];
  out?: string;
  title?: string;
}

async function plotCommand(dir: string, opts: PlotOpts): Promise<number> {
  const [{ readExperimentManifest, EXPERIMENT_DB }, { openExperimentDatabase }, { writeChart }] = await Promise.all([
    import("../experiment/results.js"), import("../io/open-db.js"), import("../plot/chart.js"),
  ]);
  let m;
  try {
    m = readExperimentManifest(dir);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  const param = (name: string, flag: string) => {
    const p = m.parameters.find((q) => q.path === name || q.column === name);
    if (!p) throw new CliError(`${flag} ${name}: not a parameter of ${m.name} (parameters: ${m.parameters.map((q) => q.path).join(", ")})`);
    return p;
  };
  const xp = param(opts.x, "--x");
  const bp = opts.by ? param(opts.by, "--by") : undefined;
  const metric = m.metrics.find((q) => q.key === opts.y || q.column === opts.y);
  if (!metric) throw new CliError(`--y ${opts.y}: not a metric of ${m.name} (metrics: ${m.metrics.map((q) => q.key).join(", ")})`);
  const fixed = opts.where.map((w) => {
    const eq = w.indexOf("=");
    if (eq < 1) throw new CliError(`--where ${w}: expected <parameter>=<value>`);
    return { p: param(w.slice(0, eq), "--where"), value: w.slice(eq + 1) };
  });

  const db = join(dir, EXPERIMENT_DB);
  const rows = await openExperimentDatabase(dir, m)
    .then(async (opened) => {
      try {
        return await opened.query(`SELECT * FROM summary WHERE metric = ? ORDER BY point`, [metric.key]);
      } finally {
        opened.close();
      }
    })
    .catch((e: Error) => {
      throw new CliError(`${displayPath(db)}: ${e.message} (has the sweep finished writing?)`);
    });
  const kept = rows.filter((r) => fixed.every(({ p, value }) => String(r[p.column]) === value));
  if (!kept.length) throw new CliError(`no points match${fixed.length ? ` --where ${opts.where.join(" ")}` : ""}`);
  // Every other parameter must be fixed, or the chart would mix points that differ in it.
  for (const p of m.parameters) {
    if (p === xp || p === bp || fixed.some((f) => f.p === p)) continue;
    const values = [...new Set(kept.map((r) => String(r[p.column])))];
    if (values.length > 1) throw new CliError(`${p.path} also varies (${values.slice(0, 6).join(", ")}${values.length > 6 ? ", ..." : ""}); add --by ${p.path} or --where ${p.path}=<value>`);
  }
  const label = (q: { label?: string; path?: string; key?: string }) => q.label ?? q.path ?? q.key ?? "";
  const unit = metricUnit(metric.key);
  const yLabel = metric.label ?? (unit.unit ? `${metric.key} (${unit.unit})` : metric.key);
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  const points = kept.map((r) => ({
    x: typeof r[xp.column] === "number" ? (r[xp.column] as number) : String(r[xp.column]),
    y: Number(r.mean),
    low: num(r.ci_low),
    high: num(r.ci_high),
    series: bp ? String(r[bp.column]) : undefined,
  }));
  const n = Math.max(...kept.map((r) => Number(r.n)));
  const slug = (s: string) => s.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "");
  const base = opts.out ? resolve(opts.out) : join(dir, "plots", [slug(metric.key), "vs", slug(xp.path), ...(bp ? ["by", slug(bp.path)] : [])].join("-"));
  const files = writeChart({
    title: opts.title ?? (m.title || `${metric.key} against ${xp.path}`),
    subtitle: `${m.scenario}, ${fmtInt(m.population)} citizens x ${fmtInt(m.days)} days; mean of ${n} replicate${n === 1 ? "" : "s"} per point` +
      (n > 1 ? " with 95% intervals" : "") + (fixed.length ? `; ${fixed.map((f) => `${f.p.path} = ${f.value}`).join(", ")}` : ""),
    xLabel: label(xp),
    yLabel,
    legendLabel: bp ? label(bp) : undefined,
    points,
    yPercent: unit.percent,
  }, base);
  process.stdout.write(`wrote ${displayPath(files.png)} and ${displayPath(files.svg)} (${points.length} points)\n`);
  return 0;
}

// ---------------------------------------------------------------------------------------------

export function registerExperimentCommands(cmd: Command, version: string): void {
  const setExit = (code: number) => {
    process.exitCode = code;
  };
  const cores = Math.max(1, availableParallelism());
  cmd
    .command("sweep")
    .description("run an experiment: every point x replicate of an experiment file, on local cores or a Redis queue; resumable")
    .argument("<experiment>", "experiment YAML file (see docs/experiments.md)")
    .addOption(new Option("--workers <n>", "simulations at once on this machine").argParser(intArg(1, 1024)).default(cores))
    .addOption(new Option("--queue <url>", "put the points on a BullMQ queue in Redis (redis://[:PASSWORD@]HOST:PORT) for `credence worker` processes").env("CREDENCE_QUEUE"))
    .option("--queue-name <name>", "queue name (default credence-sweep)")
    .addOption(new Option("--attempts <n>", "tries per point-replicate on the queue before it is reported failed").argParser(intArg(1, 100)).default(3))
    .option("--out <dir>", "experiment folder (default: experiments/runs/<name>)")
    .option("--json", "print the final manifest as JSON and nothing else on stdout")
    .option("-q, --quiet", "no progress bar")
    .action(async (file: string, opts: SweepOpts) => setExit(await sweepCommand(file, opts, version)));

  cmd
    .command("worker")
    .description("take points from a sweep's Redis queue and simulate them, until the queue is empty")
    .addOption(new Option("--queue <url>", "Redis URL (redis://[[USER]:PASSWORD@]HOST:PORT[/DB], rediss:// for TLS)").env("CREDENCE_QUEUE").makeOptionMandatory())
    .option("--queue-name <name>", "queue name (default credence-sweep)")
    .addOption(new Option("--workers <n>", "simulations at once in this process").argParser(intArg(1, 1024)).default(cores))
    .addOption(new Option("--idle <seconds>", "leave once the queue has been empty this long").argParser(intArg(0, 86_400)).default(5))
    .addOption(new Option("--lock-duration <ms>", "lock on a running point; a dead worker's point is taken over after it").argParser(intArg(500, 3_600_000)).default(30_000))
    .addOption(new Option("--stalled-interval <ms>", "how often to look for points of dead workers").argParser(intArg(200, 3_600_000)).default(30_000))
    .addOption(new Option("--redis-timeout <seconds>", "give up and exit non-zero once Redis has not answered this long").argParser(intArg(1, 86_400)).default(30))
    .action(async (opts: WorkerOpts) => setExit(await workerCommand(opts)));

  cmd
    .command("plot")
    .description("chart a metric against a parameter of a finished experiment, with 95% intervals (PNG and SVG)")
    .argument("<experiment>", "experiment folder")
    .requiredOption("--x <param>", "parameter on the x axis (its path, e.g. observation.cameras.falseMatchRate)")
    .requiredOption("--y <metric>", "metric on the y axis (e.g. wrongful_share.low-score)")
    .option("--by <param>", "one line per value of this parameter")
    .option("--where <param=value...>", "fix other parameters that vary", [])
    .option("--out <base>", "output path without extension (default: <experiment>/plots/<y>-vs-<x>[-by-<by>])")
    .option("--title <text>", "chart title (default: the experiment's title)")
    .action(async (dir: string, opts: PlotOpts) => setExit(await plotCommand(dir, opts)));
}
