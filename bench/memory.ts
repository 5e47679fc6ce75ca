// `node dist/bench/memory.js`: how long this machine takes to read memory, by working-set size.
// The simulator's kernels wait on memory (docs/scale.md), and on a shared machine the memory system
// is what changes from hour to hour: run this beside `npm run bench` to tell a slow hour from a
// slower build. Two figures per size: a chase through a random cycle of cache lines (each read
// waits for the one before: the latency) and independent random reads of the same lines (many in
// flight at once: what a branch-free loop over scattered citizens pays).
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
