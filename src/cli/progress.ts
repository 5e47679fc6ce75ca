// A small progress reporter for stderr. On a terminal: one line redrawn in place (at most ten
// times a second) with phase, simulated date, day/days, percent, agent-days per second and
// time left. Elsewhere (CI logs, pipes): a plain line at each tenth of the run, never more.
import type { Progress } from "../model/result.js";
import { fmtCompact, fmtDuration, fmtInt } from "./format.js";

export interface ProgressOptions {
  population: number;
  /** Where to write; defaults to process.stderr. */
  stream?: NodeJS.WriteStream;
  /** Force the mode (tests); by default a bar on a TTY, plain lines otherwise. */
  tty?: boolean;
  /** Minimum milliseconds between redraws on a TTY. */
  redrawMs?: number;
}

export interface ProgressReporter {
  update(p: Progress): void;
  /** A free-form status line (e.g. "writing run folder"), after clearing the bar. */
  note(message: string): void;
  /** Clear the bar and stop drawing. */
  done(): void;
}

/** Characters kept for "100%  123 M agent-days/s  1h 02m left". */
const TAIL_RESERVE = 37;

export const silentProgress: ProgressReporter = { update() {}, note() {}, done() {} };

export function createProgress(opts: ProgressOptions): ProgressReporter {
  const stream = opts.stream ?? process.stderr;
  const tty = opts.tty ?? Boolean(stream.isTTY);
  const redrawMs = opts.redrawMs ?? 100;
  let lastDraw = 0;
  let lastDecile = -1;
  let lastPhase = "";
  let drawn = false;
  let finished = false;
  // Rate and time left are measured from the first simulated day, so that building the
  // population does not count as simulation speed.
  let t0: { day: number; elapsed: number } | null = null;

  const rateAndEta = (p: Progress): { rate: number; eta: number } => {
    if (p.phase !== "simulate" || !t0 || p.day <= t0.day || p.elapsedSeconds <= t0.elapsed) return { rate: NaN, eta: NaN };
    const secondsPerDay = (p.elapsedSeconds - t0.elapsed) / (p.day - t0.day);
    return { rate: opts.population / secondsPerDay, eta: secondsPerDay * Math.max(0, p.days - p.day) };
  };

  const describe = (p: Progress, withBar: boolean, width: number): string => {
    const pct = p.days > 0 ? Math.min(1, p.day / p.days) : 0;
    const pctText = `${(pct * 100).toFixed(0).padStart(3)}%`;
    if (p.phase === "population") return `building population of ${fmtInt(opts.population)} synthetic citizens...`;
    if (p.phase === "collect") return `collecting results...`;
    const { rate, eta } = rateAndEta(p);
    const rateText = Number.isFinite(rate) ? `${fmtCompact(rate)} agent-days/s` : "";
    const etaText = Number.isFinite(eta) ? `${fmtDuration(eta)} left` : "";
    const daysText = fmtInt(p.days);
    const head = `${p.phase} ${p.date}  day ${fmtInt(p.day).padStart(withBar ? daysText.length : 0)}/${daysText}`;
    const tail = [pctText, rateText, etaText].filter(Boolean).join("  ");
    if (!withBar) return `${head}  ${tail}`;
    // The bar keeps one width for the whole run: room is reserved for the longest tail.
    const room = width - head.length - TAIL_RESERVE - 6;
    const barWidth = Math.max(0, Math.min(30, room));
    if (barWidth < 5) return `${head}  ${tail}`.slice(0, Math.max(10, width - 1));
    const filled = Math.round(pct * barWidth);
    return `${head}  [${"#".repeat(filled)}${".".repeat(barWidth - filled)}]  ${tail}`;
  };

  const clear = () => {
    if (tty && drawn) {
      stream.write("\r\x1b[2K");
      drawn = false;
    }
  };

  return {
    update(p) {
      if (finished) return;
      if (p.phase === "simulate" && !t0) t0 = { day: p.day, elapsed: p.elapsedSeconds };
      const phaseChanged = p.phase !== lastPhase;
      lastPhase = p.phase;
      if (tty) {
        const now = Date.now();
        const last = p.phase === "simulate" && p.day >= p.days;
        if (!phaseChanged && !last && now - lastDraw < redrawMs) return;
        lastDraw = now;
        const width = stream.columns || 80;
        stream.write(`\r\x1b[2K${describe(p, true, width)}`);
        drawn = true;
        return;
      }
      // Plain lines: one per phase change, and one per tenth of the simulated days.
      if (p.phase === "simulate") {
        const decile = p.days > 0 ? Math.floor((10 * p.day) / p.days) : 10;
        if (decile <= lastDecile || (decile === 0 && !phaseChanged)) return;
        lastDecile = decile;
        if (decile === 0) return; // day 0: nothing simulated yet, nothing worth a line
      } else if (!phaseChanged) return;
      stream.write(describe(p, false, 0) + "\n");
    },
    note(message) {
      clear();
      stream.write(message + "\n");
    },
    done() {
      clear();
      finished = true;
    },
  };
}
