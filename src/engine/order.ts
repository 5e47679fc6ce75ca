// A stable ordering of rows by a non-negative integer key (a citizen id): the day's observations
// are put in target order and the trail in citizen order. A radix sort, because a comparator
// sort of the day's observations cost a sixth of the observation phase.

const BITS = 11;
const RADIX = 1 << BITS;

/** Row indices 0..n-1 ordered by keys[row], ties kept in row order. Keys are citizen ids (int32 >= 0). */
export function stableOrder(keys: Int32Array, n: number): Uint32Array {
  let order = new Uint32Array(n);
  let next = new Uint32Array(n);
  for (let k = 0; k < n; k++) order[k] = k;
  let max = 0;
  for (let k = 0; k < n; k++) max |= keys[k];
  const count = new Uint32Array(RADIX);
  for (let shift = 0; shift === 0 || max >>> shift > 0; shift += BITS) {
    count.fill(0);
    for (let k = 0; k < n; k++) count[(keys[k] >>> shift) & (RADIX - 1)]++;
    for (let d = 0, at = 0; d < RADIX; d++) {
      const c = count[d];
      count[d] = at;
      at += c;
    }
    for (let k = 0; k < n; k++) {
      const row = order[k];
      next[count[(keys[row] >>> shift) & (RADIX - 1)]++] = row;
    }
    const t = order;
    order = next;
    next = t;
  }
  return order;
}

/**
 * stableOrder for rows that mostly come in key order already: a row whose key equals its
 * `expected` value (an observation held against the person who acted, whose acts come in
 * citizen order) and does not go back joins the run kept as it is; only the others are sorted,
 * then merged in by (key, row), which is the same order as stableOrder's.
 */
export function mostlySortedOrder(keys: Int32Array, n: number, expected: Int32Array): Uint32Array {
  const run = new Uint32Array(n), rest = new Uint32Array(n);
  const runLength = splitRun(keys, n, expected, run, rest), restLength = n - runLength;
  if (restLength === 0) return run;
  return mergeRun(keys, run, runLength, rest, stableOrder(keysOf(keys, rest, restLength), restLength));
}

// Each loop a function of its own, with nothing after it (see points() in model/scoring.ts).

/** Rows into the run kept as it is, or the rest; returns the run's length. */
function splitRun(keys: Int32Array, n: number, expected: Int32Array, run: Uint32Array, rest: Uint32Array): number {
  let runLength = 0, restLength = 0, last = -1;
  for (let k = 0; k < n; k++) {
    const key = keys[k];
    if (key === expected[k] && key >= last) {
      run[runLength++] = k;
      last = key;
    } else {
      rest[restLength++] = k;
    }
  }
  return runLength;
}

function keysOf(keys: Int32Array, rows: Uint32Array, length: number): Int32Array {
  const out = new Int32Array(length);
  for (let m = 0; m < length; m++) out[m] = keys[rows[m]];
  return out;
}

/** The run and the rest (in restOrder) merged by (key, row). */
function mergeRun(keys: Int32Array, run: Uint32Array, runLength: number, rest: Uint32Array, restOrder: Uint32Array): Uint32Array {
  const restLength = restOrder.length;
  const out = new Uint32Array(runLength + restLength);
  // One loop, the ends of either side included: nothing after it (see above).
  for (let o = 0, a = 0, b = 0; o < out.length; o++) {
    let fromRun = b === restLength;
    if (!fromRun && a < runLength) {
      const r1 = run[a], r2 = rest[restOrder[b]];
      fromRun = keys[r1] < keys[r2] || (keys[r1] === keys[r2] && r1 < r2);
    }
    out[o] = fromRun ? run[a++] : rest[restOrder[b++]];
  }
  return out;
}

/**
 * A counting sort by neighbourhoods of 2^shift ids, for keys in [lo, lo + (start.length - 2) << shift):
 * fills `start` so that placing the rows of each batch in turn, each at
 * `start[(key - lo) >>> shift]++`, orders them by neighbourhood, ties in the order placed.
 * Returns the number of rows. The caller places the rows itself, every column at once, so that
 * what uses them afterwards reads them in sequence.
 */
export function groupStarts(batches: Int32Array[], lo: number, shift: number, start: Uint32Array): number {
  start.fill(0);
  let n = 0;
  for (const keys of batches) {
    n += keys.length;
    for (let k = 0; k < keys.length; k++) start[((keys[k] - lo) >>> shift) + 1]++;
  }
  for (let g = 1; g < start.length; g++) start[g] += start[g - 1];
  return n;
}

/** Rearrange the first order.length values of col so that row k holds the old row order[k]. */
export function permute(col: Int32Array | Float64Array, order: Uint32Array): void {
  const copy = col.slice(0, order.length);
  for (let k = 0; k < order.length; k++) col[k] = copy[order[k]];
}

/** First index k < length with sorted[k] >= value. */
export function lowerBound(sorted: Int32Array, length: number, value: number): number {
  let lo = 0, hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
