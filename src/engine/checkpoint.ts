// Checkpoints: the whole state of a run between two days, as bytes, and back.
//
// Saved: every typed array of the world (citizens, graph, regional watch), the metric stores,
// the trail, and what each phase carries from day to day (its `state`). Nothing random needs
// saving: streams are reseeded from (seed, stream, day, block), so a resumed run draws exactly
// what the uninterrupted one drew. Everything else a phase holds is rebuilt from the scenario
// and seed when the run is set up again. Arrays are found by walking the world's stores (as
// stateBytesPerCitizen does) and copied back with .set() into the arrays the new world already
// has, so this keeps working when the stores move to SharedArrayBuffers. Arrays that are still
// as the world was built are saved as a fingerprint and checked, not copied.
//
// Layout: a magic line, a JSON header line (identity, day, payload size and sha256) padded to
// 1 KiB, then the payload in v8's serialization format. The header can be read without the payload, and a file that
// was cut short or altered fails its checksum instead of restoring garbage.
import { createHash } from "node:crypto";
import v8 from "node:v8";
import type { Scenario } from "../scenario/schema.js";
import { scenarioHash } from "../scenario/hash.js";
import { GrowableColumn, type NumericArray } from "../io/table.js";
import type { Phase, Sim } from "../model/context.js";
import type { DailyCounters } from "../metrics/daily.js";
import type { SimulateOptions } from "./result.js";

const MAGIC = "credence-checkpoint\n";
/** The marker and the header line, padded: the state follows at this offset. */
const HEAD_BYTES = 1024;
export const CHECKPOINT_FORMAT = 1;

/** What a checkpoint belongs to: it restores only into a run with the same four. */
export interface CheckpointIdentity {
  scenarioHash: string;
  seed: number;
  population: number;
  days: number;
}

export interface CheckpointHeader extends CheckpointIdentity {
  format: number;
  /** Days already simulated: the resumed run starts with this day. */
  nextDay: number;
  payloadBytes: number;
  payloadSha256: string;
}

interface Payload {
  world: Record<string, NumericArray | { sha256: string }>;
  stores: Record<string, { data: Float64Array; stock: Float64Array }>;
  trail: Record<string, NumericArray>;
  phases: Record<string, unknown>;
}

/** A checkpoint that cannot be used: unreadable, damaged, or from another run. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckpointError";
  }
}

/** Thrown by simulate() when asked to stop (options.shouldStop) after a finished day. */
export class SimulationStopped extends Error {
  constructor(readonly nextDay: number, readonly days: number, readonly checkpointed: boolean) {
    super(`simulation stopped after day ${nextDay} of ${days}`);
    this.name = "SimulationStopped";
  }
}

export const identityOf = (s: Scenario, seed: number): CheckpointIdentity => ({
  scenarioHash: scenarioHash(s), seed, population: s.population.size, days: s.days,
});

// ---------------------------------------------------------------------------------------
// Generic copies of typed-array stores

/** Every typed array of the world by a stable name ("c.score", "c.traits", "g.near", ...), found by walking its stores. */
function worldArrays(sim: Sim): [string, NumericArray][] {
  const out: [string, NumericArray][] = [];
  const walk = (prefix: string, store: object) => {
    for (const [k, v] of Object.entries(store)) if (ArrayBuffer.isView(v)) out.push([`${prefix}${k}`, v as NumericArray]);
  };
  walk("c.", sim.c);
  walk("g.", sim.g);
  walk("", { regionWatch: sim.regionWatch });
  return out;
}

const sha256 = (a: ArrayBufferView) => createHash("sha256").update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest("hex");

/** Fingerprints of the world's arrays as built from the scenario and seed (see saveCheckpoint). */
export function worldFingerprints(sim: Sim): Map<string, string> {
  return new Map(worldArrays(sim).map(([name, a]) => [name, sha256(a)]));
}

/**
 * The world's arrays for a checkpoint: a copy of each, except those still as they were built
 * (traits, households, the friendship graph's layout...), which are rebuilt from the seed on
 * resume and so are saved as their fingerprint only: nearly half of the world, at the cost of
 * hashing it, which is cheaper than copying it.
 */
function saveWorld(sim: Sim, built: Map<string, string> | undefined): Record<string, NumericArray | { sha256: string }> {
  const out: Record<string, NumericArray | { sha256: string }> = {};
  for (const [name, a] of worldArrays(sim)) {
    const h = built?.get(name);
    // No copy needed: v8's serializer copies a view's bytes, whatever its buffer (shared or not).
    out[name] = h !== undefined && sha256(a) === h ? { sha256: h } : a;
  }
  return out;
}

function restoreWorld(sim: Sim, saved: Record<string, NumericArray | { sha256: string }> | undefined): void {
  const live = worldArrays(sim);
  const names = live.map(([n]) => n);
  if (!saved || names.length !== Object.keys(saved).length || names.some((n) => !(n in saved))) {
    throw new CheckpointError(`the checkpoint's world arrays (${Object.keys(saved ?? {}).join(", ")}) are not this version's (${names.join(", ")})`);
  }
  for (const [name, dst] of live) {
    const src = saved[name];
    if (ArrayBuffer.isView(src)) {
      if (src.length !== dst.length || src.constructor !== dst.constructor) throw new CheckpointError(`the checkpoint's ${name} does not fit this run (length or type differs)`);
      dst.set(src as never);
    } else if (src?.sha256 !== sha256(dst)) {
      throw new CheckpointError(`the world built from the scenario and seed differs from the checkpoint's (${name}): was it written by another version of Credence?`);
    }
  }
}

/**
 * A metric store's running stocks and its rows of the finished days only: the store holds one
 * row block per day of the run, and the days to come are still zero (most of a checkpoint
 * early in a long run with many cells would otherwise be zeros).
 */
function finishedRows(store: DailyCounters, nextDay: number): { data: Float64Array; stock: Float64Array } {
  return { data: store.data.subarray(0, (store.data.length / store.days) * nextDay), stock: store.stock };
}

function setFinishedRows(store: DailyCounters, saved: { data: Float64Array; stock: Float64Array } | undefined, nextDay: number, what: string): void {
  const rows = (store.data.length / store.days) * nextDay;
  if (!(saved?.data instanceof Float64Array) || saved.data.length !== rows || !(saved.stock instanceof Float64Array) || saved.stock.length !== store.stock.length) {
    throw new CheckpointError(`the checkpoint's ${what} do not fit this run (different metrics or cells)`);
  }
  store.data.set(saved.data);
  store.stock.set(saved.stock);
}

/** The filled part of every growable column of `holder` (an event log), by field name (views: serialize at once). */
export function saveColumns(holder: object): Record<string, NumericArray> {
  const out: Record<string, NumericArray> = {};
  for (const [k, v] of Object.entries(holder)) if (v instanceof GrowableColumn) out[k] = v.view();
  return out;
}

/** Puts columns saved by saveColumns back into `holder`'s columns of the same names. */
export function restoreColumns(holder: object, saved: unknown): void {
  const cols = saved as Record<string, NumericArray>;
  for (const [k, v] of Object.entries(holder)) {
    if (!(v instanceof GrowableColumn)) continue;
    if (!cols || !ArrayBuffer.isView(cols[k])) throw new CheckpointError(`the checkpoint has no column ${k}`);
    v.assign(cols[k]);
  }
}

// ---------------------------------------------------------------------------------------
// Encoding

function phaseMap(phases: Phase[]): Map<string, Phase> {
  const m = new Map<string, Phase>();
  for (const p of phases) {
    if (m.has(p.name)) throw new Error(`two phases are named ${p.name}; checkpoints need unique names`);
    m.set(p.name, p);
  }
  return m;
}

/**
 * The run's state after `nextDay` days, as checkpoint bytes. Reads the state, never changes it.
 * `built`: worldFingerprints() of the freshly built world; arrays still equal to it are not copied.
 */
export function saveCheckpoint(sim: Sim, phases: Phase[], id: CheckpointIdentity, nextDay: number, built?: Map<string, string>): Uint8Array {
  const payload: Payload = {
    world: saveWorld(sim, built),
    stores: { metrics: finishedRows(sim.metrics, nextDay), global: finishedRows(sim.global, nextDay) },
    trail: saveColumns(sim.trail),
    phases: {},
  };
  for (const [name, p] of phaseMap(phases)) if (p.state) payload.phases[name] = p.state.save();
  // The state is serialized behind room left for the header, which is filled in once the
  // state's size and checksum are known: no second copy of a buffer that can be 100 MB.
  const ser = new v8.DefaultSerializer();
  ser.writeRawBytes(new Uint8Array(HEAD_BYTES));
  ser.writeHeader();
  ser.writeValue(payload);
  const out = ser.releaseBuffer();
  const body = out.subarray(HEAD_BYTES);
  const header: CheckpointHeader = {
    format: CHECKPOINT_FORMAT, ...id, nextDay,
    payloadBytes: body.byteLength,
    payloadSha256: createHash("sha256").update(body).digest("hex"),
  };
  const head = MAGIC + JSON.stringify(header);
  if (Buffer.byteLength(head) >= HEAD_BYTES) throw new Error(`checkpoint header longer than ${HEAD_BYTES} bytes`);
  out.write(head.padEnd(HEAD_BYTES - 1, " ") + "\n", 0, "utf8");
  // A plain Uint8Array, not the Buffer: Buffer's slice() is a view, and callers expect a copy.
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** The header of checkpoint bytes, without reading the payload. */
export function readCheckpointHeader(bytes: Uint8Array): CheckpointHeader {
  const magic = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, MAGIC.length)).toString("latin1");
  if (magic !== MAGIC) throw new CheckpointError("not a Credence checkpoint (it does not start with the checkpoint marker)");
  const end = bytes.indexOf(10, MAGIC.length); // the header's newline
  let header: CheckpointHeader;
  try {
    if (end !== HEAD_BYTES - 1) throw new Error("no header line");
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + MAGIC.length, end - MAGIC.length).toString("utf8")) as CheckpointHeader;
  } catch (e) {
    throw new CheckpointError(`damaged checkpoint: unreadable header (${(e as Error).message})`);
  }
  if (header?.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(`checkpoint format ${String(header?.format)} is not supported (this version reads format ${CHECKPOINT_FORMAT})`);
  }
  for (const k of ["seed", "population", "days", "nextDay", "payloadBytes"] as const) {
    if (!Number.isInteger(header[k]) || header[k] < 0) throw new CheckpointError(`damaged checkpoint: header field ${k} is ${JSON.stringify(header[k])}, expected a whole number`);
  }
  return header;
}

/** Why a checkpoint with `header` cannot continue the run `id` (null if it can). */
export function identityMismatch(header: CheckpointIdentity, id: CheckpointIdentity): string | null {
  const diff: string[] = [];
  if (header.scenarioHash !== id.scenarioHash) diff.push(`scenario (hash ${header.scenarioHash.slice(0, 12)}, this run ${id.scenarioHash.slice(0, 12)})`);
  for (const k of ["seed", "population", "days"] as const) if (header[k] !== id[k]) diff.push(`${k} ${header[k]} (this run ${id[k]})`);
  return diff.length ? `the checkpoint belongs to another run: ${diff.join("; ")}` : null;
}

/** Checks checkpoint bytes (header, that they belong to the run `id`, size, checksum) without decoding the state. */
export function verifyCheckpoint(bytes: Uint8Array, id: CheckpointIdentity): { header: CheckpointHeader; body: Uint8Array } {
  const header = readCheckpointHeader(bytes);
  const mismatch = identityMismatch(header, id);
  if (mismatch) throw new CheckpointError(mismatch);
  if (header.nextDay > id.days) throw new CheckpointError(`damaged checkpoint: day ${header.nextDay} is past the run's ${id.days} days`);
  const body = bytes.subarray(HEAD_BYTES);
  if (body.byteLength !== header.payloadBytes) {
    throw new CheckpointError(`damaged checkpoint: ${body.byteLength} bytes of state, the header says ${header.payloadBytes} (cut short?)`);
  }
  if (createHash("sha256").update(body).digest("hex") !== header.payloadSha256) throw new CheckpointError("damaged checkpoint: the state does not match its checksum");
  return { header, body };
}

/** Checks `bytes` against the run `id` and puts the state into a freshly built sim; returns the day to start with. */
export function restoreCheckpoint(bytes: Uint8Array, sim: Sim, phases: Phase[], id: CheckpointIdentity): number {
  const { header, body } = verifyCheckpoint(bytes, id);
  let p: Payload;
  try {
    p = v8.deserialize(body) as Payload;
  } catch (e) {
    throw new CheckpointError(`damaged checkpoint: ${(e as Error).message}`);
  }
  restoreWorld(sim, p.world);
  setFinishedRows(sim.metrics, p.stores?.metrics, header.nextDay, "metrics");
  setFinishedRows(sim.global, p.stores?.global, header.nextDay, "global metrics");
  restoreColumns(sim.trail, p.trail);
  const saved = p.phases ?? {};
  const live = phaseMap(phases);
  for (const [name, phase] of live) {
    if (!phase.state) continue;
    if (!(name in saved)) throw new CheckpointError(`the checkpoint has no state for the ${name} phase`);
    phase.state.restore(saved[name]);
  }
  const extra = Object.keys(saved).filter((n) => !live.get(n)?.state);
  if (extra.length) throw new CheckpointError(`the checkpoint has state for phases this version does not keep: ${extra.join(", ")}`);
  return header.nextDay;
}

// ---------------------------------------------------------------------------------------
// The day loop's side

/**
 * What simulate() needs: the first day (restoring options.resume if given) and a call after
 * every finished day that writes the due checkpoints and honours a stop request.
 */
export function checkpointer(s: Scenario, seed: number, sim: Sim, phases: Phase[], options: SimulateOptions): { firstDay: number; afterDay(nextDay: number): void } {
  const cp = options.checkpoint;
  if (cp && !(Number.isInteger(cp.everyDays) && cp.everyDays >= 1)) throw new RangeError(`checkpoint.everyDays is ${cp.everyDays}, expected a whole number >= 1`);
  const needsId = cp || options.resume;
  const id = needsId ? identityOf(s, seed) : undefined;
  const built = cp ? worldFingerprints(sim) : undefined; // before a restore changes the world
  const firstDay = options.resume ? restoreCheckpoint(options.resume, sim, phases, id!) : 0;
  const stopIfAsked = (nextDay: number, written: boolean) => {
    if (!options.shouldStop?.()) return;
    // Stopping writes the last finished day, so that no simulated day is lost.
    if (cp && !written) cp.write(saveCheckpoint(sim, phases, id!, nextDay, built), nextDay);
    throw new SimulationStopped(nextDay, s.days, cp !== undefined);
  };
  // A stop asked for while the population was being built stops before the first day.
  stopIfAsked(firstDay, false);
  return {
    firstDay,
    afterDay(nextDay) {
      const due = cp !== undefined && nextDay % cp.everyDays === 0;
      if (due) cp.write(saveCheckpoint(sim, phases, id!, nextDay, built), nextDay);
      stopIfAsked(nextDay, due);
    },
  };
}
