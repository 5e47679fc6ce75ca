// The results database: writes self-describing Tables into a DuckDB file, and small read
// helpers for the CLI. Writers never know what a table means (see ./table.ts).
//
// Speed: tables reach millions of rows, so values do not go through per-value JS calls.
// Each table is appended in data chunks of DuckDB's vector size (2048 rows), and every
// column vector is filled with one memcpy from the column's typed array (converted to the
// DuckDB width first where needed). Text goes through a dictionary: a CODE column's labels,
// and a VARCHAR column with few distinct values, are sent as an ENUM vector of small
// integers that the appender casts to the VARCHAR column in native code. Only a VARCHAR
// column with very many distinct values pays one native call per value.
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  BIGINT,
  BOOLEAN,
  DOUBLE,
  DuckDBDataChunk,
  DuckDBInstance,
  ENUM,
  INTEGER,
  VARCHAR,
  quotedIdentifier,
  quotedString,
  type DuckDBAppender,
  type DuckDBConnection,
  type DuckDBType,
  type DuckDBValue,
} from "@duckdb/node-api";
import type { Column, Table } from "./table.js";
import type { NumericArray } from "../engine/columns.js";
import { readManifest, type Manifest } from "./run-folder.js";
import { SYNTHETIC_STATEMENT, SYNTHETIC_TABLE_NOTE } from "./synthetic.js";

// ---------------------------------------------------------------------------------------
// Native vector access.
//
// @duckdb/node-api offers per-value setters on its vector wrappers only; the bulk copy
// lives in @duckdb/node-bindings, which node-api wraps. Load the copy node-api itself
// loaded (resolved from node-api's own folder), so the native handles of its data chunks
// are valid here whatever the package manager's layout.

interface Bindings {
  data_chunk_get_vector(chunk: unknown, columnIndex: number): unknown;
  copy_data_to_vector(vector: unknown, targetByteOffset: number, source: ArrayBufferLike, sourceByteOffset: number, byteCount: number): void;
  copy_data_to_vector_validity(vector: unknown, targetByteOffset: number, source: ArrayBufferLike, sourceByteOffset: number, byteCount: number): void;
  vector_ensure_validity_writable(vector: unknown): void;
  vector_assign_string_element(vector: unknown, index: number, value: string): void;
  vector_size(): number;
}

const bindings: Bindings = (() => {
  const require = createRequire(import.meta.url);
  const apiEntry = require.resolve("@duckdb/node-api");
  return createRequire(apiEntry)("@duckdb/node-bindings") as Bindings;
})();

/** Rows per data chunk (DuckDB's vector size, 2048). */
const CHUNK = bindings.vector_size();

/** A VARCHAR column with at most this many distinct values is sent through a dictionary. */
const MAX_DICTIONARY = 65_535;

/** Names reserved for the documentation tables. */
const META_TABLES = ["_tables", "_columns"];

// ---------------------------------------------------------------------------------------
// Writing

/** The SQL type a Table column is stored as. */
export function sqlType(col: Column): "INTEGER" | "BIGINT" | "DOUBLE" | "BOOLEAN" | "VARCHAR" {
  return col.type === "CODE" ? "VARCHAR" : col.type;
}

/**
 * Creates a new DuckDB file at `dbPath` holding every table, plus `_tables` and `_columns`
 * documenting them. Only the first `table.rows` values of each column are written. CODE
 * columns are stored as the VARCHAR label of the code (a negative or unknown code is NULL).
 * An INTEGER, BIGINT or DOUBLE value that is NaN, null/undefined (in a number[]) or the
 * column's `nullValue` is NULL; an INTEGER or BIGINT value that is not an integer of that
 * width is an error. Everything is written in one transaction. Refuses to overwrite an
 * existing file; on failure the file is removed and the error rethrown.
 */
export async function writeTables(dbPath: string, tables: Table[]): Promise<void> {
  validateTables(tables);
  if (os.endianness() !== "LE") throw new Error("writeTables: only little-endian platforms are supported");
  if (fs.existsSync(dbPath)) throw new Error(`writeTables: ${dbPath} already exists; it writes a new database only`);
  fs.mkdirSync(path.dirname(path.resolve(dbPath)), { recursive: true });

  let instance: DuckDBInstance | undefined;
  let connection: DuckDBConnection | undefined;
  let ok = false;
  try {
    instance = await DuckDBInstance.create(dbPath);
    connection = await instance.connect();
    await connection.run("BEGIN TRANSACTION");
    for (const table of [...tables, ...metaTables(tables)]) await writeTable(connection, table);
    await connection.run("COMMIT");
    await connection.run("CHECKPOINT");
    ok = true;
  } finally {
    connection?.closeSync();
    instance?.closeSync();
    if (!ok) {
      for (const f of [dbPath, `${dbPath}.wal`]) fs.rmSync(f, { force: true });
    }
  }
}

function validateTables(tables: Table[]): void {
  const seen = new Set<string>();
  for (const t of tables) {
    if (typeof t.name !== "string" || t.name === "") throw new Error("writeTables: a table has no name");
    const key = t.name.toLowerCase(); // DuckDB identifiers are case-insensitive, even quoted
    if (META_TABLES.includes(key)) throw new Error(`writeTables: table name "${t.name}" is reserved`);
    if (seen.has(key)) throw new Error(`writeTables: two tables are named "${t.name}" (names are case-insensitive)`);
    seen.add(key);
    if (!Number.isSafeInteger(t.rows) || t.rows < 0) throw new Error(`writeTables: table "${t.name}" has an invalid row count ${t.rows}`);
    if (t.columns.length === 0) throw new Error(`writeTables: table "${t.name}" has no columns`);
    const cols = new Set<string>();
    for (const c of t.columns) {
      if (typeof c.name !== "string" || c.name === "") throw new Error(`writeTables: a column of table "${t.name}" has no name`);
      const ckey = c.name.toLowerCase();
      if (cols.has(ckey)) throw new Error(`writeTables: table "${t.name}" has two columns named "${c.name}"`);
      cols.add(ckey);
      if (!["INTEGER", "BIGINT", "DOUBLE", "BOOLEAN", "VARCHAR", "CODE"].includes(c.type)) {
        throw new Error(`writeTables: column "${t.name}"."${c.name}" has unknown type ${String(c.type)}`);
      }
      if (c.data == null || typeof c.data.length !== "number" || c.data.length < t.rows) {
        throw new Error(
          `writeTables: column "${t.name}"."${c.name}" holds ${c.data?.length ?? 0} values but the table has ${t.rows} rows`,
        );
      }
      if (c.type === "CODE" && !Array.isArray(c.labels)) throw new Error(`writeTables: CODE column "${t.name}"."${c.name}" has no labels`);
    }
  }
}

/** A table's description as stored (comment and `_tables`): its own words, then that its citizens are synthetic. */
const storedDescription = (description: string): string =>
  description ? `${description.replace(/\.$/, "")}. ${SYNTHETIC_TABLE_NOTE}` : SYNTHETIC_TABLE_NOTE;

/** The `_tables` and `_columns` tables, documenting `tables` and themselves. */
function metaTables(tables: Table[]): Table[] {
  const tablesCols = [
    { name: "table_name", description: "Table name", type: "VARCHAR" },
    { name: "description", description: "What one row of the table is", type: "VARCHAR" },
    { name: "rows", description: "Number of rows", type: "BIGINT" },
  ];
  const columnsCols = [
    { name: "table_name", description: "Table name", type: "VARCHAR" },
    { name: "column_name", description: "Column name", type: "VARCHAR" },
    { name: "type", description: "SQL type of the column", type: "VARCHAR" },
    { name: "description", description: "What the column holds", type: "VARCHAR" },
  ];
  const docs: { name: string; description: string; rows: number; columns: { name: string; description: string; type: string }[] }[] =
    tables.map((t) => ({ name: t.name, description: t.description, rows: t.rows, columns: t.columns.map((c) => ({ ...c, type: sqlType(c) })) }));
  const columnRows = docs.reduce((n, t) => n + t.columns.length, 0) + tablesCols.length + columnsCols.length;
  docs.push(
    { name: "_tables", description: "One row per table in this database", rows: docs.length + 2, columns: tablesCols },
    { name: "_columns", description: "One row per column of every table in this database", rows: columnRows, columns: columnsCols },
  );
  const t: Table = {
    name: "_tables",
    description: "One row per table in this database",
    rows: docs.length,
    columns: [
      { name: "table_name", description: tablesCols[0].description, type: "VARCHAR", data: docs.map((d) => d.name) },
      { name: "description", description: tablesCols[1].description, type: "VARCHAR", data: docs.map((d) => storedDescription(d.description)) },
      { name: "rows", description: tablesCols[2].description, type: "BIGINT", data: docs.map((d) => d.rows) },
    ],
  };
  const flat = docs.flatMap((d) => d.columns.map((c) => [d.name, c.name, c.type, c.description]));
  const c: Table = {
    name: "_columns",
    description: "One row per column of every table in this database",
    rows: flat.length,
    columns: columnsCols.map((col, i) => ({ name: col.name, description: col.description, type: "VARCHAR", data: flat.map((r) => r[i]) })),
  };
  return [t, c];
}

/** Fills vector `vector` with rows [off, off + n) of a column; returns nothing. */
type Filler = (vector: unknown, off: number, n: number) => void;

/** Scratch buffers shared by every column filler (one chunk at a time). */
class Scratch {
  readonly buf = new ArrayBuffer(CHUNK * 8);
  readonly i32 = new Int32Array(this.buf, 0, CHUNK);
  readonly u32 = new Uint32Array(this.buf);
  readonly f64 = new Float64Array(this.buf, 0, CHUNK);
  readonly u16 = new Uint16Array(this.buf, 0, CHUNK);
  readonly u8 = new Uint8Array(this.buf, 0, CHUNK);
  /** Validity bits, one per row (LSB first), as 32-bit words: 1 = valid. */
  readonly valid = new Uint32Array(CHUNK / 32);
}

function copyTyped(vector: unknown, a: NumericArray | BigInt64Array): void {
  bindings.copy_data_to_vector(vector, 0, a.buffer, a.byteOffset, a.byteLength);
}

/** Writes the validity mask for n rows; call only when some row is NULL. */
function copyValidity(vector: unknown, valid: Uint32Array, n: number): void {
  bindings.vector_ensure_validity_writable(vector);
  const bytes = Math.ceil(n / 64) * 8;
  bindings.copy_data_to_vector_validity(vector, 0, valid.buffer, valid.byteOffset, bytes);
}

async function writeTable(connection: DuckDBConnection, table: Table): Promise<void> {
  const q = quotedIdentifier(table.name);
  const defs = table.columns.map((c) => `${quotedIdentifier(c.name)} ${sqlType(c)}`).join(", ");
  let ddl = `CREATE TABLE ${q} (${defs});\n`;
  ddl += `COMMENT ON TABLE ${q} IS ${quotedString(storedDescription(table.description))};\n`;
  for (const c of table.columns) {
    if (c.description) ddl += `COMMENT ON COLUMN ${q}.${quotedIdentifier(c.name)} IS ${quotedString(c.description)};\n`;
  }
  await connection.run(ddl);
  if (table.rows === 0) return;

  const scratch = new Scratch();
  const plans = table.columns.map((c) => planColumn(table, c, scratch));
  const chunk = DuckDBDataChunk.create(plans.map((p) => p.type));
  const appender: DuckDBAppender = await connection.createAppender(table.name);
  try {
    for (let off = 0; off < table.rows; off += CHUNK) {
      const n = Math.min(CHUNK, table.rows - off);
      chunk.reset();
      chunk.rowCount = n;
      for (let c = 0; c < plans.length; c++) {
        plans[c].fill(bindings.data_chunk_get_vector(chunk.chunk, c), off, n);
      }
      appender.appendDataChunk(chunk);
    }
    appender.closeSync();
  } catch (e) {
    try {
      appender.clear();
      appender.closeSync();
    } catch {
      // the original error matters more
    }
    throw e;
  }
}

interface Plan {
  type: DuckDBType;
  fill: Filler;
}

function where(table: Table, col: Column, row: number): string {
  return `column "${table.name}"."${col.name}" row ${row}`;
}

function planColumn(table: Table, col: Column, s: Scratch): Plan {
  switch (col.type) {
    case "INTEGER":
      return { type: INTEGER, fill: integerFiller(table, col, s) };
    case "BIGINT":
      return { type: BIGINT, fill: bigintFiller(table, col, s) };
    case "DOUBLE":
      return { type: DOUBLE, fill: doubleFiller(col, s) };
    case "BOOLEAN":
      return {
        type: BOOLEAN,
        fill: (v, off, n) => {
          const src = col.data;
          const u8 = s.u8;
          for (let i = 0; i < n; i++) u8[i] = src[off + i] ? 1 : 0;
          copyTyped(v, u8.subarray(0, n));
        },
      };
    case "CODE":
      return codePlan(col.labels, col.data, s);
    case "VARCHAR":
      return varcharPlan(table.rows, col.data, s);
  }
}

/** Clears the validity bit of row i, first setting every bit when this is the chunk's first NULL. */
function setNull(valid: Uint32Array, i: number, anyNull: boolean): true {
  if (!anyNull) valid.fill(0xffffffff);
  valid[i >>> 5] &= ~(1 << (i & 31));
  return true;
}

/** NULL test of a numeric value: NaN, null/undefined (in a number[]) or the column's nullValue. */
function isNullNumber(x: number, nullValue: number | undefined): boolean {
  return x == null || x !== x || (nullValue !== undefined && x === nullValue);
}

/**
 * A source whose values are all valid for the DuckDB type needs no per-value checks, only a
 * scan for `nullValue` (when given) to build the validity mask.
 */
function exactFiller(
  src: NumericArray,
  nullValue: number | undefined,
  s: Scratch,
  prepare: (off: number, n: number) => NumericArray,
): Filler {
  return (v, off, n) => {
    copyTyped(v, prepare(off, n));
    if (nullValue === undefined && !(src instanceof Float32Array || src instanceof Float64Array)) return;
    const valid = s.valid;
    let anyNull = false;
    for (let i = 0; i < n; i++) {
      const x = src[off + i];
      if (x !== x || x === nullValue) anyNull = setNull(valid, i, anyNull);
    }
    if (anyNull) copyValidity(v, valid, n);
  };
}

type NumericColumn = Extract<Column, { type: "INTEGER" | "BIGINT" | "DOUBLE" }>;

function integerFiller(table: Table, col: NumericColumn, s: Scratch): Filler {
  const src = col.data;
  const nullValue = col.nullValue;
  if (src instanceof Int32Array) return exactFiller(src, nullValue, s, (off, n) => src.subarray(off, off + n));
  if (src instanceof Int8Array || src instanceof Uint8Array || src instanceof Int16Array || src instanceof Uint16Array) {
    return exactFiller(src, nullValue, s, (off, n) => {
      s.i32.set(src.subarray(off, off + n));
      return s.i32.subarray(0, n);
    });
  }
  // Uint32Array, Float32Array, Float64Array, number[]: check every value.
  return (v, off, n) => {
    const out = s.i32;
    const valid = s.valid;
    let anyNull = false;
    for (let i = 0; i < n; i++) {
      const x = src[off + i];
      if (isNullNumber(x, nullValue)) {
        anyNull = setNull(valid, i, anyNull);
        out[i] = 0;
      } else if (x === (x | 0)) {
        out[i] = x;
      } else {
        throw new RangeError(`writeTables: ${where(table, col, off + i)}: ${x} is not a 32-bit integer`);
      }
    }
    copyTyped(v, out.subarray(0, n));
    if (anyNull) copyValidity(v, valid, n);
  };
}

const TWO32 = 4294967296;
const TWO63 = 9223372036854775808;

function bigintFiller(table: Table, col: NumericColumn, s: Scratch): Filler {
  const src = col.data;
  const nullValue = col.nullValue;
  return (v, off, n) => {
    // int64 little-endian as (low uint32, high int32) pairs: exact for every integer double.
    const u32 = s.u32;
    const valid = s.valid;
    let anyNull = false;
    for (let i = 0; i < n; i++) {
      const x = src[off + i];
      if (isNullNumber(x, nullValue)) {
        anyNull = setNull(valid, i, anyNull);
        u32[2 * i] = 0;
        u32[2 * i + 1] = 0;
      } else if (Number.isInteger(x) && x >= -TWO63 && x < TWO63) {
        const hi = Math.floor(x / TWO32);
        u32[2 * i] = x - hi * TWO32;
        u32[2 * i + 1] = hi; // a negative high word wraps to its two's complement
      } else {
        throw new RangeError(`writeTables: ${where(table, col, off + i)}: ${x} is not a 64-bit integer`);
      }
    }
    copyTyped(v, u32.subarray(0, 2 * n));
    if (anyNull) copyValidity(v, valid, n);
  };
}

function doubleFiller(col: NumericColumn, s: Scratch): Filler {
  const src = col.data;
  const nullValue = col.nullValue;
  if (src instanceof Float64Array) return exactFiller(src, nullValue, s, (off, n) => src.subarray(off, off + n));
  if (!Array.isArray(src)) {
    return exactFiller(src, nullValue, s, (off, n) => {
      s.f64.set(src.subarray(off, off + n));
      return s.f64.subarray(0, n);
    });
  }
  return (v, off, n) => {
    const out = s.f64;
    const valid = s.valid;
    let anyNull = false;
    for (let i = 0; i < n; i++) {
      const x = src[off + i];
      if (isNullNumber(x, nullValue)) {
        anyNull = setNull(valid, i, anyNull);
        out[i] = 0;
      } else {
        out[i] = x;
      }
    }
    copyTyped(v, out.subarray(0, n));
    if (anyNull) copyValidity(v, valid, n);
  };
}

/** A column of dictionary indexes (-1 or undefined: NULL) sent as an ENUM vector. */
function enumPlan(values: string[], index: (row: number) => number | undefined, s: Scratch): Plan {
  if (values.length === 0) {
    // Nothing but NULLs.
    return {
      type: VARCHAR,
      fill: (v, _off, n) => {
        s.valid.fill(0);
        copyValidity(v, s.valid, n);
      },
    };
  }
  const type = ENUM(values);
  const width = values.length <= 0xff ? 1 : values.length <= 0xffff ? 2 : 4;
  const out = width === 1 ? s.u8 : width === 2 ? s.u16 : s.u32;
  return {
    type,
    fill: (v, off, n) => {
      const valid = s.valid;
      let anyNull = false;
      for (let i = 0; i < n; i++) {
        const e = index(off + i);
        if (e === undefined || e < 0) {
          anyNull = setNull(valid, i, anyNull);
          out[i] = 0;
        } else {
          out[i] = e;
        }
      }
      copyTyped(v, out.subarray(0, n));
      if (anyNull) copyValidity(v, valid, n);
    },
  };
}

function codePlan(labels: readonly string[], src: NumericArray | number[], s: Scratch): Plan {
  // ENUM members must be unique: map each code to the first label with its text.
  const values: string[] = [];
  const first = new Map<string, number>();
  const codeToEnum = new Int32Array(labels.length);
  labels.forEach((label, code) => {
    const text = String(label);
    let e = first.get(text);
    if (e === undefined) {
      e = values.length;
      values.push(text);
      first.set(text, e);
    }
    codeToEnum[code] = e;
  });
  // codeToEnum[k] is undefined for a negative, fractional or out-of-range code: NULL.
  return enumPlan(values, (row) => codeToEnum[src[row]], s);
}

function varcharPlan(rows: number, src: string[], s: Scratch): Plan {
  const values: string[] = [];
  const dict = new Map<string, number>();
  const codes = new Int32Array(rows);
  let r = 0;
  for (; r < rows; r++) {
    const x = src[r];
    if (x == null) {
      codes[r] = -1;
      continue;
    }
    const text = typeof x === "string" ? x : String(x);
    let e = dict.get(text);
    if (e === undefined) {
      if (values.length === MAX_DICTIONARY) break;
      e = values.length;
      values.push(text);
      dict.set(text, e);
    }
    codes[r] = e;
  }
  if (r === rows) return enumPlan(values, (row) => codes[row], s);

  // Too many distinct values for a dictionary: one native call per value.
  return {
    type: VARCHAR,
    fill: (v, off, n) => {
      const valid = s.valid;
      let anyNull = false;
      for (let i = 0; i < n; i++) {
        const x = src[off + i];
        if (x == null) {
          anyNull = setNull(valid, i, anyNull);
        } else {
          bindings.vector_assign_string_element(v, i, typeof x === "string" ? x : String(x));
        }
      }
      if (anyNull) copyValidity(v, valid, n);
    },
  };
}

// ---------------------------------------------------------------------------------------
// Reading

/** A database opened read-only. */
export interface ReadOnlyDatabase {
  readonly dbPath: string;
  /** Runs `sql` (with `?` or `$1` parameters) and returns every row as a plain object. */
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  close(): void;
}

/**
 * Opens a DuckDB file read-only (access_mode READ_ONLY), with any further DuckDB settings in
 * `config` (see ./open-db.ts for files that are not trusted). Close it when done.
 */
export async function openDatabase(dbPath: string, config: Record<string, string> = {}): Promise<ReadOnlyDatabase> {
  if (!fs.existsSync(dbPath)) throw new Error(`No such database: ${dbPath}`);
  const instance = await DuckDBInstance.create(dbPath, { ...config, access_mode: "READ_ONLY" });
  let connection: DuckDBConnection;
  try {
    connection = await instance.connect();
  } catch (e) {
    instance.closeSync();
    throw e;
  }
  let closed = false;
  return {
    dbPath,
    async query(sql, params) {
      if (closed) throw new Error(`Database ${dbPath} is closed`);
      const reader = await connection.runAndReadAll(sql, params ? toDuckDBValues(params) : undefined);
      return reader.getRowObjectsJS().map((row) => plain(row) as Record<string, unknown>);
    },
    close() {
      if (closed) return;
      closed = true;
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/** A complete run folder opened for reading: its manifest and its database, read-only. */
export interface OpenRun extends ReadOnlyDatabase {
  readonly dir: string;
  readonly manifest: Manifest;
}

/** Opens `<runDir>/run.duckdb` read-only after checking the run is complete (see readManifest). */
export async function openRun(runDir: string): Promise<OpenRun> {
  const manifest = readManifest(runDir);
  const db = await openDatabase(path.join(runDir, "run.duckdb"));
  return { dir: runDir, manifest, dbPath: db.dbPath, query: db.query, close: db.close };
}

/** Opens `dbPath` read-only, runs one query, closes it. BigInts become numbers when safe. */
export async function queryRows(dbPath: string, sql: string, params?: unknown[]): Promise<Record<string, unknown>[]> {
  const db = await openDatabase(dbPath);
  try {
    return await db.query(sql, params);
  } finally {
    db.close();
  }
}

function toDuckDBValues(params: unknown[]): DuckDBValue[] {
  return params.map((p, i) => {
    if (p === null || p === undefined) return null;
    switch (typeof p) {
      case "number":
      case "bigint":
      case "string":
      case "boolean":
        return p;
      default:
        throw new TypeError(`queryRows: parameter ${i + 1} is a ${typeof p}; pass numbers, bigints, strings, booleans or null`);
    }
  });
}

/** BigInt -> number when it is a safe integer, recursively through arrays and plain objects. */
function plain(value: unknown): unknown {
  if (typeof value === "bigint") {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plain(v);
    return out;
  }
  return value;
}

// ---------------------------------------------------------------------------------------
// Parquet

/** Key-value metadata of every Parquet file: the population is synthetic. */
const PARQUET_METADATA = `{synthetic: 'true', note: ${quotedString(SYNTHETIC_STATEMENT)}}`;

/**
 * Exports every table whose name does not start with "_" to `<outDir>/<table>.parquet`
 * (zstd-compressed, with PARQUET_METADATA). Returns the paths written.
 */
export async function writeParquet(dbPath: string, outDir: string): Promise<string[]> {
  const db = await openDatabase(dbPath);
  try {
    const tables = await db.query(
      "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' AND NOT starts_with(table_name, '_') ORDER BY table_name",
    );
    fs.mkdirSync(outDir, { recursive: true });
    const written: string[] = [];
    const used = new Set<string>();
    for (const { table_name } of tables) {
      const name = String(table_name);
      let base = name.replace(/[^A-Za-z0-9_.-]/g, "_");
      while (used.has(base.toLowerCase())) base += "_";
      used.add(base.toLowerCase());
      const file = path.join(outDir, `${base}.parquet`);
      await db.query(`COPY ${quotedIdentifier(name)} TO ${quotedString(file)} (FORMAT parquet, COMPRESSION zstd, KV_METADATA ${PARQUET_METADATA})`);
      written.push(file);
    }
    return written;
  } finally {
    db.close();
  }
}
