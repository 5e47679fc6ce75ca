// Checkpoints: the state of a run between two days, as bytes, and back.
//
// A checkpoint carries state, never identity. What the scenario and seed build (the citizens'
// traits, regions, groups, households and base incomes, the friendship graph's layout, the
// firms and their representatives) is built again from the seed on resume and never read from
// a checkpoint: a checkpoint cannot bring in a population that was not generated. Only what the
// simulation changes is saved: the arrays classified as state below (scores, masks, incomes,
// which ties were dropped, the regional watch), the metric stores, the trail, and what each
// phase carries from day to day (its `state`). Every saved array is checked against the rebuilt
// world before anything is restored: its type and length, and each value against its valid
// range (a tie can be dropped, never added; an income stays within what sanctions and
// privileges can make of the citizen's base income; ...). Nothing random needs saving: streams
// are reseeded from (seed, stream, day, block), so a resumed run draws exactly what the
// uninterrupted one drew. Arrays are copied back with .set() into the arrays the new world
// already has, so this keeps working when the stores are SharedArrayBuffers.
//
// Layout: a magic line, a JSON header line (the run, the day, payload size and SHA-256, a
// fingerprint of the rebuilt world, and an HMAC of all that) padded to 1 KiB, then the payload
// in v8's serialization format. The header can be read without the payload. The HMAC is keyed
// by a secret the run's creator keeps outside the run folder (io/checkpoint-key.ts): someone who
// can edit the file cannot sign it again, and since the header holds the payload's SHA-256, the
// HMAC covers the whole checkpoint at the cost of hashing the payload once. See docs/checkpoints.md.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import v8 from "node:v8";
import type { Scenario } from "../scenario/schema.js";
import { scenarioHash } from "../scenario/hash.js";
import { GrowableColumn, type NumericArray } from "./columns.js";
import type { DailyCounters } from "./counters.js";
import type { Phase } from "./day-loop.js";

const MAGIC = "credence-checkpoint\n";
/** The marker and the header line, padded: the state follows at this offset. */
const HEAD_BYTES = 1024;
/** 2: state arrays only (identity rebuilt from the seed), range-checked, and an HMAC. 3: shard parts' state saved apart from the phases'. */
export const CHECKPOINT_FORMAT = 3;
/** Shortest key accepted for the HMAC (HMAC-SHA256 keys are 32 bytes; io/checkpoint-key.ts makes those). */
export const MIN_KEY_BYTES = 16;

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
  /** SHA-256 of the world's identity arrays as built from the scenario and seed (never restored: compared). */
  builtSha256: string;
  /** HMAC-SHA256 (hex) of the fields above (signedText), with the run's checkpoint key. */
  hmac: string;
}

/** What a run saves between days and puts back into a run freshly built from the same scenario and seed (the model's side: model/checkpoint-state.ts). */
export interface RunState {
  /** SHA-256 of what the scenario and seed built (never restored: compared). */
  fingerprint(): string;
  /** Structured-clone-able values, serialized at once (live views are fine). */
  save(nextDay: number): unknown;
  /** Checks everything before it changes anything it can (throws CheckpointError). */
  restore(saved: unknown, nextDay: number): void;
}

/** A checkpoint that cannot be used: unreadable, damaged, out of range, or from another run. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckpointError";
  }
}

/** A checkpoint whose HMAC does not verify with the key given: altered, or signed with another account's or machine's key. */
export class CheckpointSignatureError extends CheckpointError {
  constructor(message: string) {
    super(message);
    this.name = "CheckpointSignatureError";
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
// Identity and state: every typed array of the world, classified

/** A valid value of a state array (`built`: the same array as the seed built it, before the restore). */
export interface Valid {
  what: string;
  ok(v: number, i: number, built: NumericArray): boolean;
}

/**
 * IDENTITY: built from the scenario and seed, rebuilt on resume and never read from a
 * checkpoint. Otherwise state: changed by the simulation, saved, and restored only after every
 * value passes `valid` (given what the model checks against, `W`: the rebuilt world and the day resumed).
 */
export type ArrayClass<W> = typeof IDENTITY | { valid: (w: W) => Valid };
export const IDENTITY = "identity";
export const state = <W>(valid: (w: W) => Valid): ArrayClass<W> => ({ valid });

export const within = (lo: number, hi: number): Valid => ({ what: `within [${lo}, ${hi}]`, ok: (v) => v >= lo && v <= hi });
export const bitsBelow = (bits: number): Valid => ({ what: `a mask of ${bits} bits`, ok: (v) => v < 2 ** bits });
export const FINITE: Valid = { what: "a finite number", ok: Number.isFinite };
/** The type's own range is the valid one (counts in a byte). */
export const ANY: Valid = { what: "any value of its type", ok: () => true };

/** The typed-array fields of T: each must be classified (a new one fails to compile until it is). */
export type ArrayFields<T> = { [K in keyof T]-?: T[K] extends ArrayBufferView ? K : never }[keyof T] & string;

/** A store of typed arrays (an object whose fields are arrays), the prefix its arrays are saved under, and their classes. */
export interface ClassifiedStore<W> {
  prefix: string;
  store: object;
  classes: Record<string, ArrayClass<W>>;
}

interface Classified<W> {
  name: string;
  array: NumericArray;
  cls: ArrayClass<W> | undefined;
}

/**
 * Every typed array of the stores by a stable name ("c.score", "g.alive", "regionWatch", ...)
 * with its class, found by walking the stores, so that an array added to a store without a
 * class is found too: saving or restoring then refuses.
 */
function classifiedArrays<W>(stores: ClassifiedStore<W>[]): Classified<W>[] {
  const out: Classified<W>[] = [];
  for (const { prefix, store, classes } of stores) {
    for (const [k, v] of Object.entries(store)) {
      if (ArrayBuffer.isView(v)) out.push({ name: `${prefix}${k}`, array: v as NumericArray, cls: Object.hasOwn(classes, k) ? classes[k] : undefined });
    }
  }
  const unclassified = out.filter((a) => a.cls === undefined).map((a) => a.name);
  if (unclassified.length) {
    // A bug, not a bad checkpoint: refused before the first day of a checkpointed or resumed run.
    throw new Error(`world arrays ${unclassified.join(", ")} are classified neither as identity nor as state: checkpoints refuse to save or restore them`);
  }
  return out;
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** SHA-256 of the identity arrays as built from the scenario and seed: a checkpoint records it, a resume compares it. */
export function identityFingerprint<W>(stores: ClassifiedStore<W>[]): string {
  const h = createHash("sha256");
  for (const { name, array, cls } of classifiedArrays(stores)) if (cls === IDENTITY) h.update(name).update(bytesOf(array));
  return h.digest("hex");
}

/** The state arrays, by name (views: v8's serializer copies their bytes, whatever their buffer). */
export function saveArrays<W>(stores: ClassifiedStore<W>[]): Record<string, NumericArray> {
  const out: Record<string, NumericArray> = {};
  for (const { name, array, cls } of classifiedArrays(stores)) if (cls !== IDENTITY) out[name] = array;
  return out;
}

/**
 * Puts the saved state arrays into the freshly built world, after checking every one of them
 * (and that there is no other) against it: nothing is copied unless all pass.
 */
export function restoreArrays<W>(stores: ClassifiedStore<W>[], saved: unknown, rebuilt: W): void {
  const live = classifiedArrays(stores).filter((a) => a.cls !== IDENTITY);
  if (typeof saved !== "object" || saved === null) throw new CheckpointError("damaged checkpoint: it has no world state");
  const savedNames = Object.keys(saved);
  const extra = savedNames.filter((n) => !live.some((a) => a.name === n));
  if (extra.length) throw new CheckpointError(`the checkpoint holds world arrays this version never restores (${extra.join(", ")}): what the seed builds is built again, never read from a checkpoint`);
  const checked: [NumericArray, NumericArray][] = [];
  for (const { name, array: dst, cls } of live) {
    const src = (saved as Record<string, unknown>)[name];
    if (!ArrayBuffer.isView(src)) throw new CheckpointError(`the checkpoint has no ${name}`);
    if (src.constructor !== dst.constructor || (src as NumericArray).length !== dst.length) {
      throw new CheckpointError(`the checkpoint's ${name} does not fit this run (a ${src.constructor.name} of ${(src as NumericArray).length}, expected a ${dst.constructor.name} of ${dst.length})`);
    }
    const valid = (cls as Exclude<ArrayClass<W>, typeof IDENTITY>).valid(rebuilt);
    const a = src as NumericArray;
    for (let i = 0; i < a.length; i++) {
      if (!valid.ok(a[i], i, dst)) throw new CheckpointError(`the checkpoint's ${name}[${i}] is ${a[i]}, expected ${valid.what}`);
    }
    checked.push([dst, a]);
  }
  for (const [dst, src] of checked) dst.set(src as never);
}

/**
 * A metric store's running stocks and its rows of the finished days only: the store holds one
 * row block per day of the run, and the days to come are still zero (most of a checkpoint
 * early in a long run with many cells would otherwise be zeros).
 */
export function finishedRows(store: DailyCounters, nextDay: number): { data: Float64Array; stock: Float64Array } {
  return { data: store.data.subarray(0, (store.data.length / store.days) * nextDay), stock: store.stock };
}

export function setFinishedRows(store: DailyCounters, saved: { data: Float64Array; stock: Float64Array } | undefined, nextDay: number, what: string): void {
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

/** Puts columns saved by saveColumns back into `holder`'s columns of the same names (and types). */
export function restoreColumns(holder: object, saved: unknown): void {
  const cols = saved as Record<string, NumericArray>;
  for (const [k, v] of Object.entries(holder)) {
    if (!(v instanceof GrowableColumn)) continue;
    if (!cols || !ArrayBuffer.isView(cols[k])) throw new CheckpointError(`the checkpoint has no column ${k}`);
    if (cols[k].constructor !== v.data.constructor) throw new CheckpointError(`the checkpoint's column ${k} is a ${cols[k].constructor.name}, expected a ${v.data.constructor.name}`);
    v.assign(cols[k]);
  }
}

// ---------------------------------------------------------------------------------------
// Encoding

function phaseMap<C>(phases: Phase<C>[]): Map<string, Phase<C>> {
  const m = new Map<string, Phase<C>>();
  for (const p of phases) {
    if (m.has(p.name)) throw new Error(`two phases are named ${p.name}; checkpoints need unique names`);
    m.set(p.name, p);
  }
  return m;
}

/** What each phase carries from day to day (its `state`), by phase name. */
export function savePhases<C>(phases: Phase<C>[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, p] of phaseMap(phases)) if (p.state) out[name] = p.state.save();
  return out;
}

export function restorePhases<C>(phases: Phase<C>[], saved: unknown): void {
  const states = (saved ?? {}) as Record<string, unknown>;
  const live = phaseMap(phases);
  for (const [name, phase] of live) {
    if (!phase.state) continue;
    if (!Object.hasOwn(states, name)) throw new CheckpointError(`the checkpoint has no state for the ${name} phase`);
    phase.state.restore(states[name]);
  }
  const extra = Object.keys(states).filter((n) => !live.get(n)?.state);
  if (extra.length) throw new CheckpointError(`the checkpoint has state for phases this version does not keep: ${extra.join(", ")}`);
}

/** What the HMAC covers: every header field but the HMAC, in a fixed order (the payload through its SHA-256). */
const signedText = (h: Omit<CheckpointHeader, "hmac">): string =>
  JSON.stringify([MAGIC, h.format, h.scenarioHash, h.seed, h.population, h.days, h.nextDay, h.payloadBytes, h.payloadSha256, h.builtSha256]);

const hmacOf = (key: Uint8Array, h: Omit<CheckpointHeader, "hmac">): string => createHmac("sha256", key).update(signedText(h)).digest("hex");

function checkKey(key: Uint8Array | undefined, what: string): Uint8Array {
  if (!(key instanceof Uint8Array) || key.byteLength < MIN_KEY_BYTES) {
    throw new RangeError(`${what} needs options.checkpointKey, a key of at least ${MIN_KEY_BYTES} bytes (checkpoints are signed with it; see io/checkpoint-key.ts)`);
  }
  return key;
}

/**
 * The run's state after `nextDay` days, as checkpoint bytes signed with `key`. Reads the
 * state, never changes it. `builtSha256`: builtFingerprint() of the freshly built world.
 */
export function saveCheckpoint(run: RunState, id: CheckpointIdentity, nextDay: number, builtSha256: string, key: Uint8Array): Uint8Array {
  const payload = run.save(nextDay);
  // The state is serialized behind room left for the header, which is filled in once the
  // state's size and checksum are known: no second copy of a buffer that can be 100 MB.
  const ser = new v8.DefaultSerializer();
  ser.writeRawBytes(new Uint8Array(HEAD_BYTES));
  ser.writeHeader();
  ser.writeValue(payload);
  const out = ser.releaseBuffer();
  const body = out.subarray(HEAD_BYTES);
  const unsigned = {
    format: CHECKPOINT_FORMAT, ...id, nextDay,
    payloadBytes: body.byteLength,
    payloadSha256: createHash("sha256").update(body).digest("hex"),
    builtSha256,
  };
  const header: CheckpointHeader = { ...unsigned, hmac: hmacOf(key, unsigned) };
  const head = MAGIC + JSON.stringify(header);
  if (Buffer.byteLength(head) >= HEAD_BYTES) throw new Error(`checkpoint header longer than ${HEAD_BYTES} bytes`);
  out.write(head.padEnd(HEAD_BYTES - 1, " ") + "\n", 0, "utf8");
  // A plain Uint8Array, not the Buffer: Buffer's slice() is a view, and callers expect a copy.
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

const HEX64 = /^[0-9a-f]{64}$/;

/** The header of checkpoint bytes, without reading the payload (not yet authenticated: see verifyCheckpoint). */
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
  for (const k of ["scenarioHash", "payloadSha256", "builtSha256", "hmac"] as const) {
    if (typeof header[k] !== "string" || !HEX64.test(header[k])) throw new CheckpointError(`damaged checkpoint: header field ${k} is not a SHA-256 in hex`);
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

/**
 * Checks checkpoint bytes without decoding the state: the header, that they belong to the run
 * `id`, the HMAC with `key` (null: not authenticated, for a checkpoint copied from another
 * account or machine; the state is still range-checked as it is restored), size and checksum.
 */
export function verifyCheckpoint(bytes: Uint8Array, id: CheckpointIdentity, key: Uint8Array | null): { header: CheckpointHeader; body: Uint8Array } {
  const header = readCheckpointHeader(bytes);
  const mismatch = identityMismatch(header, id);
  if (mismatch) throw new CheckpointError(mismatch);
  if (key !== null && !timingSafeEqual(Buffer.from(header.hmac, "hex"), Buffer.from(hmacOf(checkKey(key, "resuming"), header), "hex"))) {
    throw new CheckpointSignatureError("the checkpoint's signature (HMAC) does not verify with this run's checkpoint key: it was altered, or written under another account or on another machine");
  }
  if (header.nextDay > id.days) throw new CheckpointError(`damaged checkpoint: day ${header.nextDay} is past the run's ${id.days} days`);
  const body = bytes.subarray(HEAD_BYTES);
  if (body.byteLength !== header.payloadBytes) {
    throw new CheckpointError(`damaged checkpoint: ${body.byteLength} bytes of state, the header says ${header.payloadBytes} (cut short?)`);
  }
  if (createHash("sha256").update(body).digest("hex") !== header.payloadSha256) throw new CheckpointError("damaged checkpoint: the state does not match its checksum");
  return { header, body };
}

/**
 * Checks `bytes` against the run `id` (and `key`, see verifyCheckpoint) and puts the state into
 * a run freshly built from the scenario and seed, whose identity it only compares with the
 * fingerprint `builtSha256`; returns the day to start with.
 */
export function restoreCheckpoint(bytes: Uint8Array, run: RunState, id: CheckpointIdentity, builtSha256: string, key: Uint8Array | null): number {
  const { header, body } = verifyCheckpoint(bytes, id, key);
  if (header.builtSha256 !== builtSha256) {
    throw new CheckpointError("the world built from the scenario and seed differs from the checkpoint's: was it written by another version of Credence?");
  }
  let saved: unknown;
  try {
    saved = v8.deserialize(body);
  } catch (e) {
    throw new CheckpointError(`damaged checkpoint: ${(e as Error).message}`);
  }
  if (typeof saved !== "object" || saved === null) throw new CheckpointError("damaged checkpoint: no state");
  run.restore(saved, header.nextDay);
  return header.nextDay;
}

// ---------------------------------------------------------------------------------------
// The day loop's side

/** What a run asks of its checkpoints (model/result.ts SimulateOptions has these). */
export interface CheckpointOptions {
  /** Hand over a checkpoint, signed with checkpointKey, after every `everyDays` finished days. */
  checkpoint?: { everyDays: number; write(bytes: Uint8Array, nextDay: number): void };
  /** Checkpoint bytes to continue from, instead of starting at day 0: must be signed with checkpointKey. */
  resume?: Uint8Array;
  /**
   * The run's checkpoint key (HMAC-SHA256, at least 16 bytes; io/checkpoint-key.ts keeps one per
   * run outside the run folder): signs the checkpoints written, and the resumed one must verify with it.
   */
  checkpointKey?: Uint8Array;
  /**
   * Resume without checking the checkpoint's signature (one copied from another account or
   * machine). The population is rebuilt from the seed and the state range-checked all the same.
   */
  resumeUnauthenticated?: boolean;
  /** Asked after every finished day; true stops the run with SimulationStopped (after a checkpoint, if checkpointing). */
  shouldStop?: () => boolean;
}

/**
 * What the day loop needs: the first day (restoring options.resume if given) and a call after
 * every finished day that writes the due checkpoints and honours a stop request.
 */
export function checkpointer(id: CheckpointIdentity, run: RunState, options: CheckpointOptions): { firstDay: number; afterDay(nextDay: number): void } {
  const cp = options.checkpoint;
  if (cp && !(Number.isInteger(cp.everyDays) && cp.everyDays >= 1)) throw new RangeError(`checkpoint.everyDays is ${cp.everyDays}, expected a whole number >= 1`);
  const key = cp ? checkKey(options.checkpointKey, "checkpointing") : undefined;
  const resumeKey = options.resume && !options.resumeUnauthenticated ? checkKey(options.checkpointKey, "resuming") : null;
  const built = cp || options.resume ? run.fingerprint() : "";
  const firstDay = options.resume ? restoreCheckpoint(options.resume, run, id, built, resumeKey) : 0;
  const save = (nextDay: number) => cp!.write(saveCheckpoint(run, id, nextDay, built, key!), nextDay);
  const stopIfAsked = (nextDay: number, written: boolean) => {
    if (!options.shouldStop?.()) return;
    // Stopping writes the last finished day, so that no simulated day is lost.
    if (cp && !written) save(nextDay);
    throw new SimulationStopped(nextDay, id.days, cp !== undefined);
  };
  // A stop asked for while the population was being built stops before the first day.
  stopIfAsked(firstDay, false);
  return {
    firstDay,
    afterDay(nextDay) {
      const due = cp !== undefined && nextDay % cp.everyDays === 0;
      if (due) save(nextDay);
      stopIfAsked(nextDay, due);
    },
  };
}
