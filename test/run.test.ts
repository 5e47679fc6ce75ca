// The library's run(): the lifecycle the CLI has (run folder, checkpoints, stopping on an
// AbortSignal, resume), reachable from a program. A run aborted with checkpoints on leaves an
// incomplete folder that resume() (or `credence resume`) completes into the run an
// uninterrupted one would have been.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { readManifest, resume, run, RunError, type RunOutcome } from "../src/index.js";
import { packageVersion } from "../src/cli/common.js";
import { makeScenario } from "./helpers.js";

const here = dirname(fileURLToPath(import.meta.url)); // dist/test
const CLI = resolve(here, "../src/cli/main.js");
const tmp = mkdtempSync(join(tmpdir(), "credence-run-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
// This user's checkpoint secret, for this process and the CLIs it starts: never the real ~/.config.
process.env.XDG_CONFIG_HOME = join(tmp, "config");
const version = packageVersion(); // `credence resume` continues only runs started by its own version

const scenario = () => makeScenario({ population: { size: 20_000 }, days: 120 });

/** A run started with checkpoints and aborted on its first progress report. */
async function abortedRun(out: string): Promise<RunOutcome> {
  const controller = new AbortController();
  return run(scenario(), {
    seed: 7, threads: 1, out, version, checkpointEvery: 5,
    signal: controller.signal,
    onProgress: (p) => {
      if (p.day >= 3) controller.abort();
    },
  });
}

let uninterrupted: RunOutcome | undefined;
const reference = async (): Promise<RunOutcome & { status: "complete" }> => {
  uninterrupted ??= await run(scenario(), { seed: 7, threads: 1, out: join(tmp, "whole"), version });
  assert.equal(uninterrupted.status, "complete");
  return uninterrupted as RunOutcome & { status: "complete" };
};

test("run() writes a complete run folder", async () => {
  const whole = await reference();
  const m = readManifest(join(tmp, "whole"));
  assert.equal(m.status, "complete");
  assert.ok(existsSync(join(tmp, "whole", "run.duckdb")));
  assert.deepEqual(m.summary, whole.manifest.summary);
  assert.equal(m.seed, 7);
});

test("run() aborted with checkpoints leaves an incomplete folder that resume() completes into the uninterrupted run", async () => {
  const out = join(tmp, "stopped");
  const stopped = await abortedRun(out);
  assert.equal(stopped.status, "stopped");
  assert.ok(stopped.status === "stopped" && stopped.nextDay < 120);
  const m = readManifest(out, { allowIncomplete: true });
  assert.equal(m.status, "incomplete");
  assert.match(m.reason ?? "", /credence resume/);
  await assert.rejects(run(scenario(), { seed: 7, out: join(tmp, "whole", "run.duckdb"), version }), RunError); // a file is not a run folder

  const resumed = await resume(out, { version, threads: 2 });
  assert.equal(resumed.status, "complete");
  const whole = await reference();
  assert.deepEqual(readManifest(out).summary, whole.manifest.summary);
  assert.equal(JSON.stringify(resumed.status === "complete" && resumed.result.summary), JSON.stringify(whole.result.summary));
});

test("run() aborted with checkpoints: `credence resume` completes it too", async () => {
  const out = join(tmp, "stopped-cli");
  assert.equal((await abortedRun(out)).status, "stopped");
  const res = spawnSync(process.execPath, [CLI, "resume", out, "--json", "--quiet"], { encoding: "utf8", env: process.env });
  assert.equal(res.status, 0, res.stderr);
  const whole = await reference();
  assert.deepEqual(JSON.parse(res.stdout).summary, JSON.parse(JSON.stringify(whole.manifest.summary)));
});

test("run() aborted without checkpoints writes nothing", async () => {
  const out = join(tmp, "aborted");
  const controller = new AbortController();
  const outcome = await run(scenario(), {
    seed: 7, threads: 1, out, version, signal: controller.signal,
    onProgress: () => controller.abort(),
  });
  assert.equal(outcome.status, "aborted");
  assert.ok(!existsSync(out));
});
