// Daily metric stores: a mechanism declares the metrics it writes (a MetricSet, typed), and
// gets their indices back; the store keeps one row per (day, cell) of plain float64 counters.
// Flows are added during the day; stocks (people on a list, score sums) are kept as running
// values and copied in at day end. A metric is looked up only through its declaration, so a
// name that nothing declared is an error where it is looked up, never a column of zeros.

/** Metric names become SQL column names: ids like `low-score` turn into `low_score`. */
export const columnName = (name: string): string => name.replace(/[^A-Za-z0-9_]/g, "_");

/**
 * A daily metric: its column name, the unit of its values, what it counts, and how it
 * aggregates over days. A flow (the default) is summed over the days of a period; a stock is a
 * value at the end of each day, and a period's is its last day's. Over cells, both are summed.
 */
export interface MetricSpec {
  name: string;
  unit: string;
  description: string;
  stock?: boolean;
}

/** A mechanism's metrics, by the handle its code uses. */
export type MetricSet = Record<string, MetricSpec>;

/** A MetricSet's indices in a store: referencing a metric the set does not have does not compile. */
export type MetricIndex<T extends MetricSet> = { readonly [K in keyof T]: number };

/** The description with the unit, as the tables document a column. */
export const describe = (spec: MetricSpec): string => `${spec.description} (${spec.unit}${spec.stock ? ", at the end of the day" : ""})`;

/** Indices of `set` in a store's index, or an error naming the first metric nobody declared. */
function indicesIn<T extends MetricSet>(index: Map<string, number>, set: T, store: string): MetricIndex<T> {
  const out: Record<string, number> = {};
  for (const [handle, spec] of Object.entries(set)) {
    const k = index.get(columnName(spec.name));
    if (k === undefined) throw new Error(`metric ${spec.name} is not declared in the ${store} (it is declared by the mechanism that writes it, before the store is allocated)`);
    out[handle] = k;
  }
  return out as MetricIndex<T>;
}

export class DailyCounters {
  readonly index = new Map<string, number>();
  readonly names: string[] = [];
  readonly specs: MetricSpec[] = [];
  data = new Float64Array(0);
  private stride = 0;
  /** Running stock values per cell, copied into each day's row by snapshot(). */
  stock = new Float64Array(0);
  private stockMetrics: number[] = [];

  constructor(readonly days: number, readonly cells: number, private readonly what = "run's metrics") {}

  /** Declare a set of metrics; returns their indices. Stocks carry over from day to day. */
  declare<T extends MetricSet>(set: T): MetricIndex<T> {
    for (const spec of Object.values(set)) {
      const name = columnName(spec.name);
      if (this.index.has(name)) throw new Error(`metric ${name} is declared twice`);
      if (this.data.length) throw new Error(`metric ${name} declared after the store was allocated`);
      const k = this.names.length;
      this.index.set(name, k);
      this.names.push(name);
      this.specs.push(spec);
      if (spec.stock) this.stockMetrics.push(k);
    }
    return this.indexOf(set);
  }

  /** The indices of metrics declared elsewhere (throws if one was not). */
  indexOf<T extends MetricSet>(set: T): MetricIndex<T> {
    return indicesIn(this.index, set, this.what);
  }

  allocate(): void {
    this.stride = this.names.length;
    this.data = new Float64Array(this.days * this.cells * this.stride);
    this.stock = new Float64Array(this.cells * this.stride);
  }

  get metricCount(): number {
    return this.stride;
  }

  /** Add a flow for the given day and cell. */
  add(day: number, cell: number, metric: number, v: number): void {
    this.data[(day * this.cells + cell) * this.stride + metric] += v;
  }

  /** Change a running stock (e.g. +1 when someone enters a list in `cell`). */
  addStock(cell: number, metric: number, v: number): void {
    this.stock[cell * this.stride + metric] += v;
  }

  setStock(cell: number, metric: number, v: number): void {
    this.stock[cell * this.stride + metric] = v;
  }

  snapshot(day: number): void {
    const base = day * this.cells * this.stride;
    for (let cell = 0; cell < this.cells; cell++) {
      const o = cell * this.stride;
      for (const k of this.stockMetrics) this.data[base + o + k] = this.stock[o + k];
    }
  }

  /** Add the shards' counts for a day (ShardCounters.take, summed over shards: still in quanta). */
  addQuanta(day: number, flows: Float64Array, stocks: Float64Array): void {
    const base = day * this.cells * this.stride;
    for (let k = 0; k < flows.length; k++) {
      if (flows[k]) this.data[base + k] += flows[k] / QUANTUM;
      if (stocks[k]) this.stock[k] += stocks[k] / QUANTUM;
    }
  }

  get(day: number, cell: number, metric: number): number {
    return this.data[(day * this.cells + cell) * this.stride + metric];
  }

  /** Sum of a metric over all cells on one day. */
  total(day: number, metric: number): number {
    let s = 0;
    for (let cell = 0; cell < this.cells; cell++) s += this.get(day, cell, metric);
    return s;
  }
}

/**
 * Counts from kernels are kept in units of 1/QUANTUM and rounded per event: sums of integers are
 * exact in float64, so a day's total does not depend on how the citizens were split into shards
 * nor in which order the shards' counts arrive. (A point is resolved to 1/65536.)
 */
export const QUANTUM = 65536;

/** A shard's counters for one task: flows and stock changes per cell, in quanta. */
export class ShardCounters {
  readonly index: Map<string, number>;
  private readonly stride: number;
  private readonly flows: Float64Array;
  private readonly stocks: Float64Array;

  constructor(readonly cells: number, names: readonly string[]) {
    this.index = new Map(names.map((n, k) => [n, k]));
    this.stride = names.length;
    this.flows = new Float64Array(cells * this.stride);
    this.stocks = new Float64Array(cells * this.stride);
  }

  indexOf<T extends MetricSet>(set: T): MetricIndex<T> {
    return indicesIn(this.index, set, "shard's metrics");
  }

  add(_day: number, cell: number, metric: number, v: number): void {
    this.flows[cell * this.stride + metric] += Math.round(v * QUANTUM);
  }

  addStock(cell: number, metric: number, v: number): void {
    this.stocks[cell * this.stride + metric] += Math.round(v * QUANTUM);
  }

  /**
   * Hand over the counts so far and start again from zero. Only the entries a task touched (a
   * few metrics in each cell) travel: every metric of every cell (11,000 entries in china-2018)
   * was allocated, cloned and summed for each task of each shard.
   */
  take(): ShardCounts {
    const touched = this.touched();
    const out: ShardCounts = { at: new Int32Array(touched), flows: new Float64Array(touched), stocks: new Float64Array(touched) };
    this.drain(out);
    return out;
  }

  // Each loop a function of its own, with nothing after it (see points() in model/scoring.ts).
  private touched(): number {
    const { flows, stocks } = this;
    let touched = 0;
    for (let k = 0; k < flows.length; k++) if (flows[k] || stocks[k]) touched++;
    return touched;
  }

  private drain(out: ShardCounts): void {
    const { flows, stocks } = this;
    for (let k = 0, m = 0; k < flows.length; k++) {
      if (!(flows[k] || stocks[k])) continue;
      out.at[m] = k;
      out.flows[m] = flows[k];
      out.stocks[m++] = stocks[k];
      flows[k] = stocks[k] = 0;
    }
  }
}

/** A task's counts, in quanta: flows and stock changes at entries `at` (cell * metrics + metric). */
export interface ShardCounts {
  at: Int32Array;
  flows: Float64Array;
  stocks: Float64Array;
}
