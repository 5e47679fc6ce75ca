// A column-oriented table: the one shape in which the model hands results to the writers.
// Writers never know what a table means; every table documents itself, so the output reference
// in docs/outputs.md and the `_columns` table in run.duckdb come from the same place.

export type NumericArray =
  | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array
  | Float32Array | Float64Array;

export type Column =
  /** NaN is written as NULL; so is `nullValue` when given (integer arrays cannot hold NaN). */
  | { name: string; description: string; type: "INTEGER" | "BIGINT" | "DOUBLE"; data: NumericArray | number[]; nullValue?: number }
  | { name: string; description: string; type: "BOOLEAN"; data: NumericArray | boolean[] }
  | { name: string; description: string; type: "VARCHAR"; data: string[] }
  /** Small integer codes written as text through a dictionary (behaviour, channel, list...). */
  | { name: string; description: string; type: "CODE"; labels: readonly string[]; data: NumericArray | number[] };

export interface Table {
  name: string;
  description: string;
  /** Number of rows; every column holds at least this many values (growable buffers may hold more). */
  rows: number;
  columns: Column[];
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

/** Value of row `r` of a column as a plain JS value (codes resolved to labels). */
export function cellValue(col: Column, r: number): number | string | boolean | null {
  switch (col.type) {
    case "VARCHAR":
      return col.data[r] ?? null;
    case "BOOLEAN":
      return Boolean(col.data[r]);
    case "CODE": {
      const code = col.data[r];
      return code < 0 ? null : col.labels[code] ?? null;
    }
    default: {
      const v = col.data[r];
      return Number.isNaN(v) || (col.nullValue !== undefined && v === col.nullValue) ? null : v;
    }
  }
}
