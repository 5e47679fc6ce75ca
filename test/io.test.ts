import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openRun, queryRows, writeParquet, writeTables } from "../src/io/duckdb.js";
import { canonicalJson, markIncomplete, readManifest, scenarioHash, writeRunFolder } from "../src/io/run-folder.js";
import { cellValue, type Column, type Table } from "../src/io/table.js";
import { int32Column } from "../src/engine/columns.js";
import type { RunResult } from "../src/model/result.js";
import { SYNTHETIC_STATEMENT, SYNTHETIC_TABLE_NOTE } from "../src/io/synthetic.js";
import { FileRefused, readUserFile } from "../src/io/read-file.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "credence-io-test-"));
process.on("exit", () => fs.rmSync(root, { recursive: true, force: true }));
let counter = 0;
const tmp = (name: string) => path.join(root, `${counter++}-${name}`);

/** Siblings a run write may leave behind: `<dir>.partial-*` and `<dir>.old-*`. */
function leftovers(dir: string): string[] {
  const base = path.basename(dir);
  return fs.readdirSync(path.dirname(dir)).filter((f) => f.startsWith(`${base}.partial-`) || f.startsWith(`${base}.old-`));
}

// A table spanning several 2048-row chunks with every column type and every NULL rule.
function allTypes(rows: number): Table {
  const idx = int32Column();
  for (let r = 0; r < rows; r++) idx.push(r);
  idx.data.fill(-999, rows); // growable buffer longer than rows: must not be written
  const i16 = Int16Array.from({ length: rows + 10 }, (_, r) => (r % 200) - 100);
  const sentinel = Int32Array.from({ length: rows }, (_, r) => (r % 9 === 0 ? -1 : r * 3));
  const fromDoubles = Array.from({ length: rows }, (_, r) => (r % 11 === 0 ? NaN : r - 2500));
  const u32 = Uint32Array.from({ length: rows }, (_, r) => r * 1000);
  const big = Float64Array.from({ length: rows }, (_, r) =>
    r % 13 === 0 ? NaN : r % 2 ? -(2 ** 40) - r : 2 ** 53 - 1 - r,
  );
  const dbl = Float64Array.from({ length: rows }, (_, r) => (r % 17 === 0 ? NaN : r / 7));
  const f32 = Float32Array.from({ length: rows }, (_, r) => r / 4);
  const flags = Uint8Array.from({ length: rows }, (_, r) => r % 3); // 2 is true as well
  const bools = Array.from({ length: rows }, (_, r) => r % 5 === 0);
  const words = ["alpha", "beta", "", "ünïcødé ✓", "a rather long label over twelve bytes"];
  const strs = Array.from({ length: rows }, (_, r) => (r % 7 === 0 ? (null as unknown as string) : words[r % words.length]));
  const many = Array.from({ length: rows }, (_, r) => `v${r % 300}`); // > 255 distinct: 16-bit dictionary
  const labels = ["speech", "travel", "purchase", "speech", "a label longer than twelve bytes", "Ω"];
  // NULL codes (negative or out of range) only in the first chunk: a later chunk must not inherit its mask.
  const codes = Int8Array.from({ length: rows + 50 }, (_, r) => (r < 2048 && r % 5 === 0 ? (r % 10 === 0 ? -1 : 6) : r % 6));
  const bigLabels = Array.from({ length: 300 }, (_, i) => `label-${i}`);
  const bigCodes = Uint16Array.from({ length: rows }, (_, r) => r % 300);
  const numCodes = Array.from({ length: rows }, (_, r) => (r % 4 === 3 ? -5 : r % 3));
  const columns: Column[] = [
    { name: "idx", description: "row index", type: "INTEGER", data: idx.data },
    { name: "i16", description: "int16 source", type: "INTEGER", data: i16 },
    { name: "sentinel", description: "nullValue -1", type: "INTEGER", data: sentinel, nullValue: -1 },
    { name: "from_doubles", description: "number[] with NaN", type: "INTEGER", data: fromDoubles },
    { name: "u32", description: "uint32 source", type: "INTEGER", data: u32 },
    { name: "big", description: "int64 values", type: "BIGINT", data: big },
    { name: "dbl", description: "doubles with NaN", type: "DOUBLE", data: dbl },
    { name: "f32", description: "float32 source", type: "DOUBLE", data: f32 },
    { name: "flag", description: "uint8 flags", type: "BOOLEAN", data: flags },
    { name: "bool", description: "boolean[]", type: "BOOLEAN", data: bools },
    { name: "str", description: "text with nulls", type: "VARCHAR", data: strs },
    { name: "many", description: "300 distinct strings", type: "VARCHAR", data: many },
    { name: "code", description: "a code", type: "CODE", labels, data: codes },
    { name: "big_code", description: "300 labels", type: "CODE", labels: bigLabels, data: bigCodes },
    { name: "num_code", description: "codes in a number[]", type: "CODE", labels: ["x", "y", "z"], data: numCodes },
  ];
  return { name: "all_types", description: "Every column type", rows, columns };
}

const expected = (t: Table, r: number) => Object.fromEntries(t.columns.map((c) => [c.name, cellValue(c, r)]));

test("writeTables round-trips every column type, NULL rule and chunk boundary", async () => {
  const db = tmp("types.duckdb");
  const t = allTypes(5000);
  await writeTables(db, [t]);
  const rows = await queryRows(db, "SELECT * FROM all_types ORDER BY idx");
  assert.equal(rows.length, t.rows);
  for (let r = 0; r < t.rows; r++) assert.deepEqual(rows[r], expected(t, r), `row ${r}`);
  // Spot checks that do not rely on cellValue.
  assert.equal(rows[0].code, null);
  assert.equal(rows[5].code, null); // code 6 is out of range
  assert.equal(rows[3].code, "speech"); // code 3: duplicate label
  assert.equal(rows[4].code, "a label longer than twelve bytes");
  assert.equal(rows[2051].code, "Ω"); // 2051 % 6 = 5, after the first chunk: not NULL
  assert.equal(rows[1].big, -(2 ** 40) - 1);
  assert.equal(rows[2].big, 2 ** 53 - 3);
  assert.equal(rows[0].sentinel, null);
  assert.equal(rows[0].dbl, null);
  assert.equal(rows[2].flag, true);
  const types = await queryRows(db, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'all_types'");
  const typeOf = Object.fromEntries(types.map((x) => [x.column_name, x.data_type]));
  assert.deepEqual(typeOf, {
    idx: "INTEGER", i16: "INTEGER", sentinel: "INTEGER", from_doubles: "INTEGER", u32: "INTEGER", big: "BIGINT",
    dbl: "DOUBLE", f32: "DOUBLE", flag: "BOOLEAN", bool: "BOOLEAN", str: "VARCHAR", many: "VARCHAR",
    code: "VARCHAR", big_code: "VARCHAR", num_code: "VARCHAR",
  });
  assert.equal(fs.existsSync(`${db}.wal`), false);
});

test("VARCHAR with too many distinct values for a dictionary, and an empty table", async () => {
  const db = tmp("strings.duckdb");
  const rows = 70_000;
  const data = Array.from({ length: rows }, (_, r) => (r % 1000 === 1 ? (undefined as unknown as string) : `s${r}-ü`));
  const t: Table = { name: "s", description: "strings", rows, columns: [
    { name: "i", description: "", type: "INTEGER", data: Int32Array.from({ length: rows }, (_, r) => r) },
    { name: "s", description: "", type: "VARCHAR", data },
  ] };
  const empty: Table = { name: "empty", description: "no rows", rows: 0, columns: [{ name: "x", description: "", type: "CODE", labels: [], data: [] }] };
  await writeTables(db, [t, empty]);
  const got = await queryRows(db, "SELECT s FROM s ORDER BY i");
  for (let r = 0; r < rows; r++) assert.equal(got[r].s, data[r] ?? null);
  assert.deepEqual(await queryRows(db, "SELECT count(*) AS n FROM empty"), [{ n: 0 }]);
});

test("_tables and _columns document every table and column; names are quoted safely", async () => {
  const db = tmp("meta.duckdb");
  const weird: Table = {
    name: `we"ird table; DROP`,
    description: `it's described`,
    rows: 3,
    columns: [
      { name: `sel'ect "x"`, description: `a "quoted" column's text`, type: "INTEGER", data: [1, 2, 3] },
      { name: "c", description: "code", type: "CODE", labels: ["a"], data: [0, 0, -1] },
    ],
  };
  const t = allTypes(10);
  await writeTables(db, [t, weird]);
  const cols = await queryRows(db, "SELECT * FROM _columns");
  for (const table of [t, weird]) {
    for (const c of table.columns) {
      const row = cols.find((x) => x.table_name === table.name && x.column_name === c.name);
      assert.ok(row, `${table.name}.${c.name} listed`);
      assert.equal(row.description, c.description);
      assert.equal(row.type, c.type === "CODE" ? "VARCHAR" : c.type);
    }
  }
  const tables = await queryRows(db, "SELECT * FROM _tables");
  // A table's own description comes first, then the statement that its citizens are synthetic.
  assert.deepEqual(tables.find((x) => x.table_name === weird.name), { table_name: weird.name, description: `${weird.description}. ${SYNTHETIC_TABLE_NOTE}`, rows: 3 });
  assert.deepEqual(tables.find((x) => x.table_name === "all_types"), { table_name: "all_types", description: `${t.description}. ${SYNTHETIC_TABLE_NOTE}`, rows: 10 });
  const data = await queryRows(db, `SELECT "sel'ect ""x""" AS v, c FROM "we""ird table; DROP"`);
  assert.deepEqual(data, [{ v: 1, c: "a" }, { v: 2, c: "a" }, { v: 3, c: null }]);
  const comments = await queryRows(db, "SELECT comment FROM duckdb_columns() WHERE table_name = ? AND column_name = ?", [weird.name, `sel'ect "x"`]);
  assert.deepEqual(comments, [{ comment: weird.columns[0].description }]);
});

test("writeTables refuses bad input and leaves no file behind", async () => {
  const short: Table = { name: "short", description: "", rows: 10, columns: [{ name: "x", description: "", type: "DOUBLE", data: new Float64Array(5) }] };
  const db1 = tmp("short.duckdb");
  await assert.rejects(writeTables(db1, [short]), /holds 5 values but the table has 10 rows/);
  assert.equal(fs.existsSync(db1), false);

  // Fails after the first chunks are appended: 1.5 is not an INTEGER.
  const late: Table = { name: "late", description: "", rows: 5000, columns: [
    { name: "x", description: "", type: "INTEGER", data: Array.from({ length: 5000 }, (_, r) => (r === 4500 ? 1.5 : r)) },
  ] };
  const db2 = tmp("late.duckdb");
  await assert.rejects(writeTables(db2, [allTypes(100), late]), /"late"."x" row 4500: 1.5 is not a 32-bit integer/);
  assert.equal(fs.existsSync(db2), false);
  assert.equal(fs.existsSync(`${db2}.wal`), false);

  const db3 = tmp("dup.duckdb");
  await assert.rejects(writeTables(db3, [allTypes(3), { ...allTypes(3), name: "ALL_TYPES" }]), /two tables/);
  await assert.rejects(writeTables(db3, [{ ...allTypes(3), name: "_columns" }]), /reserved/);

  const db4 = tmp("exists.duckdb");
  fs.writeFileSync(db4, "not a database");
  await assert.rejects(writeTables(db4, [allTypes(3)]), /already exists/);
  assert.equal(fs.readFileSync(db4, "utf8"), "not a database");
});

test("writeParquet exports every non-underscore table", async () => {
  const db = tmp("pq.duckdb");
  await writeTables(db, [allTypes(3000)]);
  const out = tmp("parquet");
  const files = await writeParquet(db, out);
  assert.deepEqual(files.map((f) => path.basename(f)), ["all_types.parquet"]);
  assert.deepEqual(await queryRows(db, "SELECT count(*) AS n, count(code) AS c FROM read_parquet(?)", [files[0]]), [{ n: 3000, c: 2590 }]);
});

// ---------------------------------------------------------------------------------------
// Run folders

function fakeResult(seed: number, tables: Table[] = [allTypes(3000)]): RunResult {
  const scenario = { name: "test-scenario", title: "T", startDate: "2018-01-01", days: 30, population: { size: 1234, regions: [{ name: "r", weight: 1 }] } };
  return {
    scenario,
    seed,
    tables,
    summary: { scenario: "test-scenario", seed, metrics: { chilling: 0.25 } },
    stats: { wallSeconds: 1.5, simulateSeconds: 1, agentDaysPerSecond: 1e6, eventsPerSecond: 1e5, stateBytesPerCitizen: 40, peakRssBytes: 1e8 },
  } as unknown as RunResult;
}

test("writeRunFolder writes a complete run and replaces a previous one", async () => {
  const dir = tmp("run");
  const m1 = await writeRunFolder(fakeResult(1), dir, { version: "0.1.0", scenarioPath: "scenarios/x.yaml" });
  assert.equal(m1.status, "complete");
  assert.equal(m1.reason, undefined);
  assert.deepEqual(readManifest(dir), m1);
  assert.equal(m1.seed, 1);
  assert.equal(m1.name, "test-scenario");
  assert.equal(m1.population, 1234);
  assert.equal(m1.days, 30);
  assert.equal(m1.startDate, "2018-01-01");
  assert.equal(m1.scenarioPath, "scenarios/x.yaml");
  assert.equal(m1.scenarioHash, scenarioHash(fakeResult(1).scenario));
  assert.deepEqual(m1.tables, { all_types: 3000 });
  assert.equal(m1.node, process.version);
  assert.ok(m1.wallSeconds >= 1.5);
  assert.ok(!Number.isNaN(Date.parse(m1.createdAt)));
  assert.deepEqual(fs.readdirSync(dir).sort(), ["manifest.json", "run.duckdb"]);

  const m2 = await writeRunFolder(fakeResult(2), dir, { version: "0.1.0" });
  assert.equal(readManifest(dir).seed, 2);
  assert.equal(m2.scenarioPath, undefined);
  assert.deepEqual(leftovers(dir), []);
  const run = await openRun(dir);
  try {
    assert.equal(run.manifest.seed, 2);
    assert.deepEqual(await run.query("SELECT count(*) AS n FROM all_types"), [{ n: 3000 }]);
  } finally {
    run.close();
  }

  // An existing empty folder is fine.
  const empty = tmp("empty-run");
  fs.mkdirSync(empty);
  await writeRunFolder(fakeResult(3), empty, { version: "0.1.0" });
  assert.equal(readManifest(empty).status, "complete");
});

test("a failure while writing leaves no folder claiming to be complete", async () => {
  const failing = (): Table[] => [allTypes(100), { name: "bad", description: "", rows: 10, columns: [{ name: "x", description: "", type: "INTEGER", data: [1, 2] }] }];
  const late = (): Table[] => [allTypes(3000), { name: "late", description: "", rows: 5000, columns: [
    { name: "x", description: "", type: "BIGINT", data: Array.from({ length: 5000 }, (_, r) => (r === 4999 ? 0.5 : r)) },
  ] }];

  // Fresh folder: nothing at all is left.
  const fresh = tmp("fresh");
  await assert.rejects(writeRunFolder(fakeResult(1, failing()), fresh, { version: "0" }), /holds 2 values but the table has 10 rows/);
  await assert.rejects(writeRunFolder(fakeResult(1, late()), fresh, { version: "0" }), /not a 64-bit integer/);
  assert.equal(fs.existsSync(fresh), false);
  assert.deepEqual(leftovers(fresh), []);

  // Previous run: left exactly as it was.
  const dir = tmp("kept");
  await writeRunFolder(fakeResult(7), dir, { version: "0" });
  const before = fs.readFileSync(path.join(dir, "manifest.json"), "utf8");
  await assert.rejects(writeRunFolder(fakeResult(8, late()), dir, { version: "0" }), /not a 64-bit integer/);
  assert.equal(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"), before);
  assert.equal(readManifest(dir).seed, 7);
  assert.deepEqual(await queryRows(path.join(dir, "run.duckdb"), "SELECT count(*) AS n FROM all_types"), [{ n: 3000 }]);
  assert.deepEqual(leftovers(dir), []);
});

test("writeRunFolder refuses a non-empty folder that is not a run", async () => {
  const dir = tmp("user-folder");
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, "notes.txt"), "mine");
  await assert.rejects(writeRunFolder(fakeResult(1), dir, { version: "0" }), /not empty and is not a run folder/);
  assert.deepEqual(fs.readdirSync(dir), ["notes.txt"]);
  assert.deepEqual(leftovers(dir), []);

  const file = tmp("a-file");
  fs.writeFileSync(file, "x");
  await assert.rejects(writeRunFolder(fakeResult(1), file, { version: "0" }), /not a folder/);
  assert.equal(fs.readFileSync(file, "utf8"), "x");
});

test("readManifest explains what is wrong; markIncomplete records a reason", async () => {
  assert.throws(() => readManifest(tmp("nowhere")), /No such run folder/);
  const notRun = tmp("not-run");
  fs.mkdirSync(notRun);
  assert.throws(() => readManifest(notRun), /Not a run folder: .* has no manifest.json/);

  const dir = tmp("interrupted");
  await writeRunFolder(fakeResult(1), dir, { version: "0" });
  markIncomplete(dir, "interrupted by SIGINT");
  assert.throws(() => readManifest(dir), /Incomplete run in .*: interrupted by SIGINT/);
  await assert.rejects(openRun(dir), /interrupted by SIGINT/);
  const m = readManifest(dir, { allowIncomplete: true });
  assert.equal(m.status, "incomplete");
  assert.equal(m.seed, 1); // the rest of the manifest is kept

  const bare = tmp("bare");
  markIncomplete(bare, "simulating");
  assert.throws(() => readManifest(bare), /Incomplete run in .*: simulating/);
});

test("scenarioHash ignores key order and nothing else", () => {
  const a = { name: "x", days: 3, population: { size: 10, regions: [{ name: "r", weight: 1 }] }, lists: [] };
  const b = { lists: [], population: { regions: [{ weight: 1, name: "r" }], size: 10 }, days: 3, name: "x" };
  assert.equal(canonicalJson(a), canonicalJson(b));
  assert.equal(canonicalJson(b), '{"days":3,"lists":[],"name":"x","population":{"regions":[{"name":"r","weight":1}],"size":10}}');
  assert.equal(scenarioHash(a), scenarioHash(b));
  assert.match(scenarioHash(a), /^[0-9a-f]{64}$/);
  assert.notEqual(scenarioHash(a), scenarioHash({ ...a, days: 4 }));
  assert.notEqual(
    scenarioHash({ regions: [{ name: "r" }, { name: "s" }] }),
    scenarioHash({ regions: [{ name: "s" }, { name: "r" }] }),
  );
});

// ---------------------------------------------------------------------------------------
// Every output says the population is synthetic

test("synthetic: the manifest says so, every table's comment says so, and so do Parquet files", async () => {
  const dir = tmp("synthetic-run");
  const m = await writeRunFolder(fakeResult(1, [allTypes(10), { ...allTypes(3), name: "second", description: "" }]), dir, { version: "0.1.0" });
  const onDisk = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8")) as Record<string, unknown>;
  assert.equal(onDisk.synthetic, true);
  assert.equal(onDisk.note, SYNTHETIC_STATEMENT);
  assert.equal(m.synthetic, true);

  const db = path.join(dir, "run.duckdb");
  const tables = await queryRows(db, "SELECT table_name, comment FROM duckdb_tables() ORDER BY table_name");
  assert.deepEqual(tables.map((t) => t.table_name), ["_columns", "_tables", "all_types", "second"]);
  for (const t of tables) assert.match(String(t.comment), /synthetic citizens/i, `table ${String(t.table_name)}: ${String(t.comment)}`);
  // _tables documents the same descriptions as the comments.
  for (const t of await queryRows(db, "SELECT description FROM _tables")) assert.match(String(t.description), /synthetic citizens/i);

  const files = await writeParquet(db, tmp("synthetic-parquet"));
  assert.equal(files.length, 2);
  for (const f of files) {
    const kv = await queryRows(db, "SELECT decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata(?)", [f]);
    assert.deepEqual(kv.filter((r) => r.key === "synthetic").map((r) => r.value), ["true"], `${f}: ${JSON.stringify(kv)}`);
    assert.deepEqual(kv.filter((r) => r.key === "note").map((r) => r.value), [SYNTHETIC_STATEMENT]);
  }
});

test("a manifest.json that is a FIFO: readManifest refuses it at once, markIncomplete replaces it", () => {
  const dir = tmp("fifo-run");
  fs.mkdirSync(dir);
  execFileSync("mkfifo", [path.join(dir, "manifest.json")]);
  // In a child killed after 3 s: the old reader waited for a writer forever.
  const script = `
    const { markIncomplete, readManifest } = await import(${JSON.stringify(new URL("../src/io/run-folder.js", import.meta.url).href)});
    const messages = [];
    for (const f of [() => readManifest(${JSON.stringify(dir)}), () => markIncomplete(${JSON.stringify(dir)}, "test")]) {
      try { f(); messages.push("no error"); } catch (e) { messages.push(e.message); }
    }
    process.stdout.write(JSON.stringify(messages));`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 3000, killSignal: "SIGKILL" });
  assert.equal(r.signal, null, "reading a FIFO manifest.json did not finish within 3 s");
  const [read, mark] = JSON.parse(r.stdout) as string[];
  assert.match(read, /manifest\.json.*a FIFO, not a regular file/);
  // markIncomplete treats it as unreadable: a minimal manifest takes its place.
  assert.equal(mark, "no error");
  assert.ok(fs.statSync(path.join(dir, "manifest.json")).isFile());
  assert.equal(readManifest(dir, { allowIncomplete: true }).reason, "test");
});

test("readUserFile: the limit is on the bytes read, exactly; a link is refused only when asked", () => {
  const file = tmp("ten.txt");
  fs.writeFileSync(file, "0123456789");
  assert.equal(readUserFile(file, { maxBytes: 10 }).toString(), "0123456789");
  assert.throws(() => readUserFile(file, { maxBytes: 9 }), (e: unknown) => e instanceof FileRefused && e.message === "a file of more than 9 bytes");
  const big = tmp("big.bin");
  fs.writeFileSync(big, Buffer.alloc(200_000, 7)); // several read chunks
  assert.equal(readUserFile(big, { maxBytes: 200_000 }).length, 200_000);
  assert.throws(() => readUserFile(big, { maxBytes: 199_999 }), FileRefused);
  const link = tmp("link.txt");
  fs.symlinkSync(file, link);
  assert.equal(readUserFile(link, { maxBytes: 10 }).length, 10);
  assert.throws(() => readUserFile(link, { maxBytes: 10, followSymlinks: false }), /symbolic link/);
  assert.throws(() => readUserFile(tmp("missing"), { maxBytes: 10 }), /no readable file \(ENOENT\)/);
});

test("the library: importing it and simulating loads no native module; DuckDB is loaded when a run folder is written", () => {
  // In a fresh process: every native addon is loaded through process.dlopen, counted here.
  const index = new URL("../src/index.js", import.meta.url).href;
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "credence-lazy-"));
  const script = `
    const loaded = [];
    const dlopen = process.dlopen;
    process.dlopen = (m, f, ...r) => { loaded.push(f); return dlopen(m, f, ...r); };
    const lib = await import(${JSON.stringify(index)});
    const s = lib.parseScenario({ name: "lazy", population: { size: 300, regions: [{ name: "A", weight: 1 }] }, days: 2,
      behaviours: [{ id: "jaywalking", class: "public", ratePerYear: 1, points: -5, observedBy: ["cameras"] }] });
    const r = lib.simulate(s, { seed: 1, threads: 1 });
    const before = loaded.filter((f) => /duckdb/i.test(f)).length;
    await lib.writeRunFolder(r, ${JSON.stringify(path.join(out, "run"))}, { version: "test" });
    console.log(JSON.stringify({ before, after: loaded.filter((f) => /duckdb/i.test(f)).length }));`;
  const res = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  assert.equal(res.status, 0, res.stderr);
  const { before, after } = JSON.parse(res.stdout.trim().split("\n").pop()!);
  assert.equal(before, 0, "DuckDB's native module loaded by import { simulate }");
  assert.ok(after > 0, "positive control: writing a run folder loads it");
  fs.rmSync(out, { recursive: true, force: true });
});
