// Simulation in a worker thread. simulate() is synchronous, so on the calling thread a Ctrl-C
// (or a dashboard request, or a sweep's progress) could not be answered until the whole run
// had finished; in a worker the caller stays free and can stop the run at once. The result is
// plain data (see engine/result.ts) and its buffers are transferred, not copied.
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import type { Progress, RunResult, SimulateOptions } from "../engine/result.js";
import type { Scenario } from "../scenario/schema.js";

export interface WorkerInput {
  kind: "credence-simulate";
  scenario: Scenario;
  options: Omit<SimulateOptions, "onProgress">;
}

type WorkerMessage =
  | { type: "progress"; progress: Progress }
  | { type: "done"; result: RunResult }
  | { type: "error"; name: string; message: string; stack?: string };

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
    const { simulate } = await import("../engine/simulate.js");
    const result = simulate(input.scenario, {
      ...input.options,
      onProgress: (progress: Progress) => port.postMessage({ type: "progress", progress } satisfies WorkerMessage),
    });
    const message: WorkerMessage = { type: "done", result };
    try {
      port.postMessage(message, transferables(result));
    } catch {
      port.postMessage(message); // e.g. a buffer that cannot be transferred: copy instead
    }
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    port.postMessage({ type: "error", name: err.name, message: err.message, stack: err.stack } satisfies WorkerMessage);
  }
}

export interface SimulationHandle {
  result: Promise<RunResult>;
  stop: () => Promise<void>;
}

export function simulateInWorker(scenario: Scenario, options: Omit<SimulateOptions, "onProgress">, onProgress: (p: Progress) => void): SimulationHandle {
  const input: WorkerInput = { kind: "credence-simulate", scenario, options };
  const worker = new Worker(new URL(import.meta.url), { workerData: input });
  let settled = false;
  const result = new Promise<RunResult>((resolveResult, reject) => {
    worker.on("message", (m: WorkerMessage) => {
      if (m.type === "progress") onProgress(m.progress);
      else if (m.type === "done") {
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
  };
}

if (!isMainThread && (workerData as WorkerInput | undefined)?.kind === "credence-simulate") {
  void workerMain(workerData as WorkerInput);
}
