// A column-oriented table: the one shape in which the model hands results to the writers.
// Writers never know what a table means; every table documents itself, so the output reference
// in docs/outputs.md and the `_columns` table in run.duckdb come from the same place.
import type { NumericArray } from "../engine/columns.js";

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
