// Simulation in a worker thread. simulate() is synchronous, so on the calling thread a Ctrl-C
// (or a dashboard request, or a sweep's progress) could not be answered until the whole run
// had finished; in a worker the caller stays free and can stop the run at once. The result is
// plain data (see model/result.ts) and its buffers are transferred, not copied; so are
// checkpoints. A stop request is a flag in shared memory that the day loop reads after each
// day: the worker is busy simulating and would not see a message until the run had ended.
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import type { Progress, RunResult, SimulateOptions } from "../model/result.js";
import { SimulationStopped } from "../engine/checkpoint.js";
import type { Scenario } from "../scenario/schema.js";

/** Options a worker can be given: functions cannot cross threads, so checkpoints and stopping are separate. */
export type WorkerOptions = Omit<SimulateOptions, "onProgress" | "checkpoint" | "shouldStop">;

export interface WorkerInput {
  kind: "credence-simulate";
  scenario: Scenario;
  options: WorkerOptions;
  checkpointEvery?: number;
  /** Int32 flag: 1 asks the run to stop after the current day. */
  stopFlag: SharedArrayBuffer;
}

type WorkerMessage =
  | { type: "progress"; progress: Progress }
  | { type: "checkpoint"; bytes: Uint8Array; nextDay: number }
  | { type: "stopped"; nextDay: number; days: number; checkpointed: boolean }
  | { type: "done"; result: RunResult }
  | { type: "error"; name: string; message: string; stack?: string };

/** The buffer under `bytes` when they span all of it (then it can be transferred, not copied). */
const ownBuffer = (bytes: Uint8Array): ArrayBuffer[] =>
  bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? [bytes.buffer] : [];

/** The distinct, transferable buffers under the result's tables (typed-array columns). */
function transferables(result: RunResult): ArrayBuffer[] {
  const seen = new Set<ArrayBuffer>();
  for (const t of result.tables ?? []) {
    for (const c of t.columns ?? []) {
      const d = (c as { data?: unknown }).data;
      if (ArrayBuffer.isView(d) && d.buffer instanceof ArrayBuffer && d.buffer.byteLength > 0) seen.add(d.buffer);
    }
  }
  return [...seen];
}

async function workerMain(input: WorkerInput): Promise<void> {
  const port = parentPort!;
  try {
    const { simulate } = await import("../model/simulate.js");
    const stop = new Int32Array(input.stopFlag);
    const result = simulate(input.scenario, {
      ...input.options,
      onProgress: (progress: Progress) => port.postMessage({ type: "progress", progress } satisfies WorkerMessage),
      ...(input.checkpointEvery
        ? { checkpoint: { everyDays: input.checkpointEvery, write: (bytes, nextDay) => port.postMessage({ type: "checkpoint", bytes, nextDay } satisfies WorkerMessage, ownBuffer(bytes)) } }
        : {}),
      shouldStop: () => Atomics.load(stop, 0) === 1,
    });
    const message: WorkerMessage = { type: "done", result };
    try {
      port.postMessage(message, transferables(result));
    } catch {
      port.postMessage(message); // e.g. a buffer that cannot be transferred: copy instead
    }
  } catch (e) {
    if (e instanceof SimulationStopped) {
      port.postMessage({ type: "stopped", nextDay: e.nextDay, days: e.days, checkpointed: e.checkpointed } satisfies WorkerMessage);
      return;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    port.postMessage({ type: "error", name: err.name, message: err.message, stack: err.stack } satisfies WorkerMessage);
  }
}

export interface SimulationHandle {
  /** The result; rejects with SimulationStopped after requestStop(). */
  result: Promise<RunResult>;
  /** Ends the worker at once. */
  stop: () => Promise<void>;
  /** Asks the run to stop after the day it is simulating (with a checkpoint of that day, if checkpointing). */
  requestStop: () => void;
}

/** Checkpoints taken in the worker, handed to `write` on the calling thread (in order). */
export interface WorkerCheckpoints {
  everyDays: number;
  write(bytes: Uint8Array, nextDay: number): void;
}

/**
 * Runs simulate() in a worker thread. `options.resume` bytes are transferred to the worker (the
 * caller's buffer is emptied) when they span their whole buffer.
 */
export function simulateInWorker(scenario: Scenario, options: WorkerOptions, onProgress: (p: Progress) => void, checkpoints?: WorkerCheckpoints): SimulationHandle {
  const stopFlag = new SharedArrayBuffer(4);
  const input: WorkerInput = { kind: "credence-simulate", scenario, options, checkpointEvery: checkpoints?.everyDays, stopFlag };
  const worker = new Worker(new URL(import.meta.url), { workerData: input, transferList: options.resume ? ownBuffer(options.resume) : [] });
  let settled = false;
  const result = new Promise<RunResult>((resolveResult, reject) => {
    worker.on("message", (m: WorkerMessage) => {
      if (settled) return;
      if (m.type === "progress") onProgress(m.progress);
      else if (m.type === "checkpoint") {
        try {
          checkpoints!.write(m.bytes, m.nextDay);
        } catch (e) {
          settled = true; // e.g. the disk is full: the run cannot keep its promise to be resumable
          reject(e);
          void worker.terminate();
        }
      } else if (m.type === "stopped") {
        settled = true;
        reject(new SimulationStopped(m.nextDay, m.days, m.checkpointed));
        void worker.terminate();
      } else if (m.type === "done") {
        settled = true;
        resolveResult(m.result);
        void worker.terminate();
      } else {
        settled = true;
        const err = new Error(m.message);
        err.name = m.name;
        err.stack = m.stack;
        reject(err);
        void worker.terminate();
      }
    });
    worker.on("error", (e) => {
      if (settled) return;
      settled = true;
      const code = (e as NodeJS.ErrnoException).code;
      reject(code === "ERR_WORKER_OUT_OF_MEMORY"
        ? new Error(`the simulation ran out of memory (${e.message}); try a smaller --population, or more heap: node --max-old-space-size=<MB> ...`)
        : e);
    });
    worker.on("exit", (code) => {
      if (settled) return;
      settled = true;
      reject(new Error(`the simulation stopped unexpectedly (worker exit code ${code})`));
    });
  });
  return {
    result,
    stop: async () => {
      settled = true;
      await worker.terminate();
    },
    requestStop: () => Atomics.store(new Int32Array(stopFlag), 0, 1),
  };
}

if (!isMainThread && (workerData as WorkerInput | undefined)?.kind === "credence-simulate") {
  void workerMain(workerData as WorkerInput);
}
