// `node dist/bench/memory.js`: how long this machine takes to read memory, by working-set size.
// The simulator's kernels wait on memory (docs/scale.md), and on a shared machine the memory system
// is what changes from hour to hour: run this beside `npm run bench` to tell a slow hour from a
// slower build. Two figures per size: a chase through a random cycle of cache lines (each read
// waits for the one before: the latency) and independent random reads of the same lines (many in
// flight at once: what a branch-free loop over scattered citizens pays). Then the bandwidth: a
// sequential read of 256 MiB on one thread, and on two at once (each its own array), the ceiling
// for a kernel that streams its arrays.
import { Worker } from "node:worker_threads";
const sizesMiB = [0.25, 1, 4, 16, 64, 256];
const READS = 2_000_000;
const LINE = 16; // int32s per 64-byte cache line

for (const mib of sizesMiB) {
  const lines = Math.floor((mib * 2 ** 20) / 64);
  const next = new Int32Array(lines * LINE);
  // Sattolo's shuffle gives a single cycle through every line, so the chase visits them all.
  const cycle = Int32Array.from({ length: lines }, (_, k) => k);
  for (let k = lines - 1; k > 0; k--) {
    const j = Math.floor(Math.random() * k);
    [cycle[k], cycle[j]] = [cycle[j], cycle[k]];
  }
  for (let k = 0; k < lines; k++) next[cycle[k] * LINE] = cycle[(k + 1) % lines] * LINE;

  let p = 0;
  let t = performance.now();
  for (let k = 0; k < READS; k++) p = next[p];
  const chase = ((performance.now() - t) * 1e6) / READS;

  const at = Int32Array.from({ length: READS }, () => Math.floor(Math.random() * lines) * LINE);
  let sum = 0;
  t = performance.now();
  for (let k = 0; k < READS; k++) sum += next[at[k]];
  const independent = ((performance.now() - t) * 1e6) / READS;
  (globalThis as { sink?: number }).sink = p + sum; // kept where the optimiser cannot drop the reads
  console.log(`${String(mib).padStart(6)} MiB: chase ${chase.toFixed(1).padStart(6)} ns a read, independent ${independent.toFixed(1).padStart(5)} ns a read`);
}

/**
 * Reads `mib` MiB in sequence five times, after every reader is ready (`ready`, shared: readers
 * count themselves in and wait for `readers`); returns the bytes read and when the reads began and
 * ended. Also the body of each worker below, so the two threads read at the same time.
 */
const streamSource = `(mib, ready, readers) => {
  const a = new Float64Array((mib * 2 ** 20) / 8).fill(1);
  Atomics.add(ready, 0, 1);
  while (Atomics.load(ready, 0) < readers) Atomics.wait(ready, 0, Atomics.load(ready, 0), 1);
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0; // four sums, so that the adds do not wait on each other
  const start = performance.timeOrigin + performance.now();
  for (let pass = 0; pass < 5; pass++) {
    for (let i = 0; i < a.length; i += 4) { s0 += a[i]; s1 += a[i + 1]; s2 += a[i + 2]; s3 += a[i + 3]; }
  }
  globalThis.sink = s0 + s1 + s2 + s3;
  return { bytes: 5 * a.byteLength, start, end: performance.timeOrigin + performance.now() };
}`;
type Read = { bytes: number; start: number; end: number };
const STREAM_MIB = 256;
const gbPerSecond = (reads: Read[]) => reads.reduce((b, r) => b + r.bytes, 0) / 1e9 / ((Math.max(...reads.map((r) => r.end)) - Math.min(...reads.map((r) => r.start))) / 1000);
const stream = (0, eval)(streamSource) as (mib: number, ready: Int32Array, readers: number) => Read;
console.log(`sequential read, ${STREAM_MIB} MiB: ${gbPerSecond([stream(STREAM_MIB, new Int32Array(new SharedArrayBuffer(4)), 1)]).toFixed(1)} GB/s on one thread`);
const ready = new Int32Array(new SharedArrayBuffer(4));
const both = await Promise.all([0, 1].map(() => new Promise<Read>((resolve, reject) => {
  const w = new Worker(`const { parentPort, workerData } = require("node:worker_threads"); parentPort.postMessage((${streamSource})(${STREAM_MIB}, workerData, 2))`, { eval: true, workerData: ready });
  w.once("message", resolve).once("error", reject);
})));
console.log(`sequential read, ${STREAM_MIB} MiB each, two threads at once: ${gbPerSecond(both).toFixed(1)} GB/s in all`);
