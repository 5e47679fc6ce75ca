// Stores: typed arrays that grow by doubling (the day's buffers and event logs) and typed
// arrays over shared memory (the world's state, read and written by every shard's thread).

export type NumericArray =
  | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array
  | Float32Array | Float64Array;

/** A typed array's constructor, as sharedArray and a state column's declaration (model/state-columns.ts) take it. */
export type TypedArrayOf<T> = { new (buffer: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number };

/** A typed array over shared memory: the world's state is read and written by every shard's thread. */
export function sharedArray<T>(Type: TypedArrayOf<T>, length: number): T {
  return new Type(new SharedArrayBuffer(length * Type.BYTES_PER_ELEMENT));
}

/** A typed array that grows by doubling: the event logs append to these without per-row objects. */
export class GrowableColumn<T extends NumericArray> {
  length = 0;
  constructor(private make: (n: number) => T, public data: T = make(1024)) {}
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = this.make(this.data.length * 2);
      next.set(this.data as never);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  append(values: ArrayLike<number>): void {
    const need = this.length + values.length;
    if (need > this.data.length) {
      const next = this.make(Math.max(need, this.data.length * 2));
      next.set(this.data as never);
      this.data = next;
    }
    this.data.set(values as never, this.length);
    this.length = need;
  }
  view(): T {
    return this.data.subarray(0, this.length) as T;
  }
  /** Replace the contents with `values` (restoring a checkpoint). */
  assign(values: ArrayLike<number>): void {
    this.data = this.make(Math.max(1024, values.length));
    this.data.set(values as never);
    this.length = values.length;
  }
}

// Only these two element types are ever grown: push() then sees two array shapes at most and
// V8 keeps it fast (with five it went megamorphic and was a fifth of a run's time).
export const int32Column = () => new GrowableColumn((n) => new Int32Array(n));
export const float64Column = () => new GrowableColumn((n) => new Float64Array(n));
/** On shared memory: a view of it posted to another thread is shared, not copied (a day's candidates and observations). */
export const sharedInt32Column = () => new GrowableColumn((n) => new Int32Array(new SharedArrayBuffer(4 * n)));
export const sharedFloat64Column = () => new GrowableColumn((n) => new Float64Array(new SharedArrayBuffer(8 * n)));
