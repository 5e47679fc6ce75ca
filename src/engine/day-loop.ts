// The day loop: each phase runs once per day in a fixed order, timed. It knows no phase: the
// model lists them (model/regime.ts) and says what happens around each day.
import { performance } from "node:perf_hooks";

/**
 * A phase: built once per run, then stepped once per day. `C` is what the phases share (the
 * model's simulation context).
 */
export interface Phase<C> {
  name: string;
  day(context: C): void;
  /** What the phase carries from one day to the next outside the world's arrays (see engine/checkpoint.ts). */
  state?: PhaseState;
}

/**
 * A phase's own state as structured-clone-able values (serialized at once, so live references
 * are fine), and its restoration into a phase freshly built for the same scenario and seed.
 */
export interface PhaseState {
  save(): unknown;
  restore(saved: unknown): void;
}

/**
 * Days [from, to): `startDay` before the first phase of each, `endDay` after the last. Returns
 * the seconds each phase took, by name.
 */
export function runDays<C>(context: C, phases: Phase<C>[], from: number, to: number, around: { startDay(day: number): void; endDay(day: number): void }): Record<string, number> {
  const ms = new Float64Array(phases.length);
  for (let day = from; day < to; day++) {
    around.startDay(day);
    for (let k = 0; k < phases.length; k++) {
      const t = performance.now();
      phases[k].day(context);
      ms[k] += performance.now() - t;
    }
    around.endDay(day);
  }
  return Object.fromEntries(phases.map((p, k) => [p.name, ms[k] / 1000]));
}
