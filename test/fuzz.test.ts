// Inputs that cannot break the loader: thousands of generated and mutated scenario files (the
// bundled scenarios with keys deleted, values of the wrong type, huge numbers, NaN-like strings,
// deep nesting, giant strings, alias bombs, binary garbage, duplicated lines) either parse or
// are rejected with a ScenarioError whose problems name a path. Nothing else is thrown, no
// input takes long, and a scenario that asks for more citizens or days than this machine can
// simulate is rejected before anything is allocated, saying what the machine can take.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { parse, stringify } from "yaml";
import { MAX_SCENARIO_BYTES, parseScenarioText, ScenarioError } from "../src/scenario/load.js";
import { estimateRun, runLimitProblems, thisMachine, type Machine } from "../src/scenario/limits.js";
import { ScenarioSchema, type Scenario } from "../src/scenario/schema.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BUNDLED = ["china-2018.yaml", "city-pilot.yaml"].map((f) => ({ file: f, text: readFileSync(join(root, "scenarios", f), "utf8") }));

/**
 * Longest a single input may take. Typical inputs take 1-30 ms; the bound is generous because
 * CI machines are shared, and what it catches is a hang or an exponential blow-up.
 */
const PER_INPUT_MS = 5000;

const stats = { inputs: 0, accepted: 0, rejected: 0, slowestMs: 0 };

/**
 * Parse one input; it must parse or throw a ScenarioError whose problems each name a path
 * (a field path, `line N` for YAML syntax, or "" for the whole file) with what was found and expected.
 */
function check(text: string, label: string): Scenario | ScenarioError {
  const t0 = performance.now();
  let outcome: Scenario | ScenarioError;
  try {
    outcome = parseScenarioText(text, label);
  } catch (e) {
    if (!(e instanceof ScenarioError)) {
      assert.fail(`${label}: threw ${(e as Error)?.name}: ${(e as Error)?.message} for input ${JSON.stringify(text.slice(0, 200))}`);
    }
    assert.ok(e.problems.length > 0, `${label}: a ScenarioError without problems`);
    for (const p of e.problems) {
      assert.equal(typeof p.path, "string");
      assert.ok(typeof p.found === "string" && typeof p.expected === "string" && p.expected.length > 0);
    }
    outcome = e;
  }
  const ms = performance.now() - t0;
  stats.inputs++;
  stats.slowestMs = Math.max(stats.slowestMs, ms);
  if (outcome instanceof ScenarioError) stats.rejected++;
  else stats.accepted++;
  assert.ok(ms < PER_INPUT_MS, `${label}: took ${ms.toFixed(0)} ms (limit ${PER_INPUT_MS} ms) for input ${JSON.stringify(text.slice(0, 200))}`);
  return outcome;
}

// ---------------------------------------------------------------------------------------------
// Values that break things: wrong types, NaN-like strings, huge numbers, giant strings, nesting.

const nested = (depth: number, leaf: unknown): unknown => {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? { k: v } : [v];
  return v;
};

const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom("NaN", ".nan", ".NaN", "Infinity", "-.inf", "1e999", "-1e999", "0x7fffffff", "0o777", "1_000", "", " ", "null", "~", "true", "yes", "<<", "*a", "!!int"),
  fc.constantFrom(1e308, -1e308, 2 ** 53 + 1, 1e21, -0, Number.MAX_SAFE_INTEGER, 2_000_000_000, 4_294_967_296, 36_500, 1e9, 0.5, -1),
  fc.double(), // NaN and ±Infinity become .nan and .inf in YAML
  fc.integer(),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.integer({ min: 1_000, max: 200_000 }).map((n) => "x".repeat(n)),
  fc.integer({ min: 1, max: 60 }).map((d) => nested(d, 1)),
  fc.anything({ maxDepth: 3, maxKeys: 4 }),
  fc.constantFrom(null, true, false, {}, [], [[]], { enabled: "yes" }),
);

/** Every path (list of keys) to a node of a plain JSON-like value. */
function allPaths(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (v !== null && typeof v === "object") {
    for (const [k, child] of Object.entries(v)) {
      const p = [...prefix, Array.isArray(v) ? Number(k) : k];
      out.push(p);
      allPaths(child, p, out);
    }
  }
  return out;
}

type Mutation = { at: number; op: "delete" | "replace" | "wrap" | "duplicate-into"; value: unknown };

function mutate(data: unknown, paths: (string | number)[][], m: Mutation): void {
  const path = paths[m.at % paths.length];
  let parent = data as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) {
    if (parent === null || typeof parent !== "object") return; // an earlier mutation moved it
    parent = parent[k] as Record<string | number, unknown>;
  }
  if (parent === null || typeof parent !== "object") return;
  const key = path[path.length - 1];
  if (m.op === "delete") {
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete parent[key];
  } else if (m.op === "replace") parent[key] = m.value;
  else if (m.op === "wrap") parent[key] = [parent[key]];
  else parent[key] = structuredClone(data); // the whole scenario nested inside itself
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom("delete" as const, "replace" as const, "replace" as const, "wrap" as const, "duplicate-into" as const),
  value: nastyValue,
});

/** YAML text of a value; values the YAML writer itself cannot express are skipped. */
function toYaml(v: unknown): string | null {
  try {
    return stringify(v, { aliasDuplicateObjects: false });
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Text-level damage: bytes inserted, ranges deleted, lines duplicated (duplicate keys), bombs.

type TextEdit =
  | { kind: "insert"; at: number; text: string }
  | { kind: "delete"; at: number; length: number }
  | { kind: "duplicate-line"; at: number }
  | { kind: "truncate"; at: number };

const textEdit: fc.Arbitrary<TextEdit> = fc.oneof(
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    text: fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.string({ unit: "binary", maxLength: 20 }),
      fc.constantFrom("*a", "&a ", "!!int ", "!!binary ", "!!set ", "!!omap ", "!foo ", "? ", "- ", ": ", "{", "[", "\t", "\n  ", "<<: *x\n", "%YAML 1.1\n---\n", "\0", "\uFEFF", "'", '"', "#", "|\n", ">-\n"),
    ),
  }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 200 }) }),
  fc.record({ kind: fc.constant("duplicate-line" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
);

function applyEdit(text: string, e: TextEdit): string {
  const at = e.at % (text.length + 1);
  switch (e.kind) {
    case "insert": return text.slice(0, at) + e.text + text.slice(at);
    case "delete": return text.slice(0, at) + text.slice(at + e.length);
    case "truncate": return text.slice(0, at);
    case "duplicate-line": {
      const lines = text.split("\n");
      const i = e.at % lines.length;
      lines.splice(i, 0, lines[i]);
      return lines.join("\n");
    }
  }
}

/** "Billion laughs": each level refers to the previous one `width` times. */
function aliasBomb(levels: number, width: number, placement: "name" | "behaviours" | "top"): string {
  const lines = [`a0: &a0 ["lol", "lol", "lol"]`];
  for (let i = 1; i < levels; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: width }, () => `*a${i - 1}`).join(", ")}]`);
  const last = `*a${levels - 1}`;
  if (placement === "name") lines.push(`name: ${last}`);
  if (placement === "behaviours") lines.push("name: bomb", "population: { regions: [{ name: X, weight: 1 }] }", `behaviours: ${last}`);
  return lines.join("\n") + "\n";
}

// ---------------------------------------------------------------------------------------------

test("fuzz: the bundled scenarios with keys deleted and values replaced by the wrong type parse or are ScenarioErrors", () => {
  for (const { file, text, runs } of BUNDLED.map((b, i) => ({ ...b, runs: [50, 350][i] }))) {
    const data = parse(text) as Record<string, unknown>;
    const paths = allPaths(data);
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => {
        const copy = structuredClone(data);
        for (const m of ms) mutate(copy, paths, m);
        const yaml = toYaml(copy);
        if (yaml !== null) check(yaml, `${file} (mutated)`);
      }),
      { numRuns: runs, seed: 7 },
    );
  }
});

test("fuzz: the bundled scenario texts damaged byte by byte parse or are ScenarioErrors", () => {
  // The YAML parser takes ~1.5 us per character on a busy machine: damage the small scenario most.
  for (const { file, text, runs } of BUNDLED.map((b, i) => ({ ...b, runs: [30, 350][i] }))) {
    fc.assert(
      fc.property(fc.array(textEdit, { minLength: 1, maxLength: 5 }), (edits) => {
        check(edits.reduce(applyEdit, text), `${file} (damaged)`);
      }),
      { numRuns: runs, seed: 11 },
    );
  }
});

test("fuzz: generated documents, binary garbage and deep nesting are ScenarioErrors", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.anything({ maxDepth: 4 }).map((v) => toYaml(v) ?? ""),
        fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? ""),
        fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b).toString("latin1")),
        fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b).toString("utf8")),
        fc.string({ unit: "grapheme", maxLength: 300 }),
        // Deep nesting, described rather than spelled out so that a failure report stays short.
        fc.record({ open: fc.constantFrom("[", "{", "- ", "a:\n ", "[{a: ", "{a: ["), depth: fc.integer({ min: 10, max: 3_000 }) }),
        fc.record({ block: fc.constant(true), depth: fc.integer({ min: 2, max: 150 }) }),
      ),
      (input) => {
        if (typeof input === "string") check(input, "generated");
        else if ("open" in input) check(`name: x\npopulation: ${input.open.repeat(input.depth)}`, `nested ${JSON.stringify(input.open)} x${input.depth}`);
        else check("name: x\npopulation:\n" + Array.from({ length: input.depth }, (_, i) => `${" ".repeat(i + 1)}a:\n`).join(""), `block nesting x${input.depth}`);
      },
    ),
    { numRuns: 2500, seed: 13 },
  );
});

test("alias bombs, giant files and duplicate keys are rejected quickly with a problem that says why", () => {
  for (const placement of ["name", "behaviours", "top"] as const) {
    for (const [levels, width] of [[10, 10], [30, 2], [5, 100]]) {
      const r = check(aliasBomb(levels, width, placement), `bomb ${levels}x${width} ${placement}`);
      assert.ok(r instanceof ScenarioError, `an alias bomb (${levels}x${width}, ${placement}) was accepted`);
      if (placement === "name" && levels * width > 100) assert.match(r.problems[0].expected, /alias/i, JSON.stringify(r.problems));
    }
  }

  const giant = BUNDLED[1].text + "\n# " + "x".repeat(MAX_SCENARIO_BYTES) + "\n";
  const big = check(giant, "giant");
  assert.ok(big instanceof ScenarioError);
  assert.match(big.problems[0].expected, /at most 262,144 characters/);

  const dup = check(BUNDLED[1].text.replace(/^days:.*$/m, (l) => `${l}\n${l}`), "duplicate days");
  assert.ok(dup instanceof ScenarioError);
  assert.match(dup.problems[0].path, /^line \d+$/);
  assert.match(dup.problems[0].found, /DUPLICATE_KEY/);

  const deep = check("name: x\npopulation: " + "[".repeat(100_000), "deep");
  assert.ok(deep instanceof ScenarioError);
});

test("NaN-like strings and huge numbers are rejected at the path of the field", () => {
  const data = parse(BUNDLED[1].text) as { population: Record<string, unknown>; days: unknown };
  for (const bad of ["NaN", ".nan", "1e999", "Infinity", 1e308, -5, 2.5]) {
    const copy = structuredClone(data);
    copy.population.size = bad;
    const r = check(stringify(copy), `population.size = ${String(bad)}`);
    assert.ok(r instanceof ScenarioError, `population.size ${String(bad)} was accepted`);
    assert.ok(r.problems.some((p) => p.path === "population.size"), JSON.stringify(r.problems));
  }
});

// ---------------------------------------------------------------------------------------------
// Limits: checked from the scenario alone, before any memory is allocated.

const smallMachine: Machine = { totalBytes: 2 * 2 ** 30, availableBytes: 2 * 2 ** 30, heapLimitBytes: 4 * 2 ** 30, maxArrayElements: 2 ** 32 };

test("limits: a population this machine cannot hold is rejected, naming the largest that fits", () => {
  const s = parseScenarioText(BUNDLED[0].text, "china-2018");
  const problems = runLimitProblems(s, { population: 100_000_000 }, smallMachine);
  assert.equal(problems.length, 1);
  assert.equal(problems[0].path, "population.size");
  const m = /at most ([\d,]+) citizens/.exec(problems[0].expected);
  assert.ok(m, problems[0].expected);
  assert.match(problems[0].expected, /2\.0 GiB free of 2\.0 GiB/);
  // The figure it names is the boundary: that many fit, 10% more do not.
  const max = Number(m[1].replace(/,/g, ""));
  assert.ok(max > 1_000_000 && max < 100_000_000, `max ${max}`);
  assert.deepEqual(runLimitProblems(s, { population: max }, smallMachine), []);
  assert.equal(runLimitProblems(s, { population: Math.ceil(max * 1.1) }, smallMachine).length, 1);
  // A small heap limit binds first when there are many lists.
  const heap = runLimitProblems(s, { population: 100_000_000 }, { ...smallMachine, availableBytes: 2 ** 40, heapLimitBytes: 2 ** 28 });
  assert.match(heap[0]?.expected ?? "", /JavaScript heap, whose limit is 0\.3 GiB/);
  // The estimate grows with the graph, by at least the 2 bytes each friend takes: more friends, fewer citizens.
  const dense = { ...s, graph: { ...s.graph, friendsMean: s.graph.friendsMean + 100 } };
  assert.ok(estimateRun(dense, 1).bytesPerCitizen > estimateRun(s, 1).bytesPerCitizen + 2 * 100);
});

test("limits: days and the largest typed array are checked too, and CLI overrides are named", () => {
  const s = parseScenarioText(BUNDLED[0].text, "china-2018");
  const tooManyDays = runLimitProblems(s, { population: 1000, days: 36_500, where: { days: "--days" } }, { ...smallMachine, availableBytes: 2 ** 29 });
  assert.equal(tooManyDays[0]?.path, "--days", JSON.stringify(tooManyDays));
  assert.match(tooManyDays[0].expected, /at most [\d,]+ days/);
  const hugeGraph = runLimitProblems(s, { population: 2_000_000_000 }, { ...smallMachine, availableBytes: 2 ** 50, totalBytes: 2 ** 50 });
  assert.match(hugeGraph[0]?.expected ?? "", /largest array V8 can hold/);
  // This machine takes the bundled scenarios as they are.
  for (const { text, file } of BUNDLED) assert.deepEqual(runLimitProblems(parseScenarioText(text, file), {}, thisMachine()), []);
});

test("limits: a scenario file asking for two billion citizens is a ScenarioError at population.size", () => {
  const text = BUNDLED[0].text.replace(/^ {2}size: \d+/m, "  size: 2000000000");
  const r = check(text, "2e9 citizens");
  assert.ok(r instanceof ScenarioError);
  assert.equal(r.problems[0].path, "population.size");
  assert.match(r.problems[0].expected, /at most [\d,]+ citizens/);
});

test("limits: `credence run --population 2000000000` exits 2 at once without allocating", () => {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(root, "dist/src/cli/main.js"), "run", join(root, "scenarios/city-pilot.yaml"), "--population", "2000000000", "--out", join(root, "runs", "never-written")], { encoding: "utf8" });
  const ms = performance.now() - t0;
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--population: found 2,000,000,000, expected at most [\d,]+ citizens/);
  assert.ok(ms < 10_000, `took ${ms} ms`);
});

test("fuzz: a file under extends: that is not scenario-shaped never has a word of it in the error", () => {
  const dir = mkdtempSync(join(tmpdir(), "credence-fuzz-extends-"));
  const SECRET = "Z9SECRETz9";
  const scenarioKeys = Object.keys(ScenarioSchema.shape);
  // Keys near the scenario's (so that some targets are scenario-shaped, and may be echoed), the secret, and any.
  const key = fc.oneof(fc.constantFrom(...scenarioKeys, "extends", "token", SECRET), fc.string({ maxLength: 12 }));
  const value = fc.oneof(fc.constant(SECRET), fc.jsonValue({ maxDepth: 3 }), fc.array(fc.constant(SECRET), { maxLength: 2 }), fc.dictionary(key, fc.constant(SECRET), { maxKeys: 3 }));
  const scenarioShaped = (doc: unknown): boolean => {
    if (doc === null || typeof doc !== "object" || Array.isArray(doc)) return false;
    const keys = Object.keys(doc);
    return keys.every((k) => k === "extends" || scenarioKeys.includes(k)) && (keys.includes("extends") || ["name", "population", "behaviours"].every((k) => keys.includes(k)));
  };
  try {
    const target = join(dir, "target.yaml");
    fc.assert(
      fc.property(fc.oneof(fc.dictionary(key, value, { maxKeys: 8 }), value), fc.boolean(), (doc, asYaml) => {
        const text = asYaml ? stringify(doc) : JSON.stringify(doc);
        writeFileSync(target, text);
        const r = check(`extends: ${target}\nname: overlay\n`, "overlay");
        if (scenarioShaped(doc)) return; // a scenario's own values may be shown
        assert.ok(r instanceof ScenarioError);
        assert.ok(!r.message.includes(SECRET), `echoed ${text.slice(0, 200)}: ${r.message}`);
        assert.equal(r.problems[0].path, "extends");
      }),
      { numRuns: 600, seed: 21 },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("fuzz summary", () => {
  // Printed so a slow or lopsided fuzz run shows in the test log; the counts must be real.
  assert.ok(stats.inputs >= 3000, `only ${stats.inputs} inputs`);
  assert.ok(stats.accepted > 0 && stats.rejected > 0, JSON.stringify(stats));
  console.log(`fuzz: ${stats.inputs} inputs, ${stats.accepted} accepted, ${stats.rejected} rejected, slowest ${stats.slowestMs.toFixed(0)} ms`);
});
