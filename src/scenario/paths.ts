// Parameter paths: how calibration, comparisons and sweeps name one value of a scenario.
// Dotted segments; inside a list, a segment picks the element whose `id` (or `name`) matches,
// or a numeric index: `behaviours.judgment-default.ratePerYear`, `lists.low-score.entry.scoreBelow`,
// `consequences.sanctions.flights.attemptsPerYear`, `population.regions.0.weight`.

export type Segment = string | number;

/** The concrete keys (array indices resolved) of `path` in `data`, or an error naming the first bad segment. */
export function resolvePath(data: unknown, path: string): { keys: Segment[] } | { error: string } {
  const keys: Segment[] = [];
  let v: unknown = data;
  for (const seg of path.split(".")) {
    if (Array.isArray(v)) {
      let k = v.findIndex((e) => e && typeof e === "object" && ((e as { id?: unknown }).id === seg || (e as { name?: unknown }).name === seg));
      if (k < 0 && /^\d+$/.test(seg) && Number(seg) < v.length) k = Number(seg);
      if (k < 0) return { error: `no element with id "${seg}" in ${keys.join(".") || "(root)"}` };
      keys.push(k);
      v = v[k];
    } else if (v && typeof v === "object" && seg in (v as object)) {
      keys.push(seg);
      v = (v as Record<string, unknown>)[seg];
    } else {
      return { error: `no field "${seg}" in ${keys.join(".") || "(root)"}` };
    }
  }
  return { keys };
}

export function getAt(data: unknown, keys: Segment[]): unknown {
  let v: unknown = data;
  for (const k of keys) v = (v as Record<Segment, unknown>)[k];
  return v;
}

/** Set a value at resolved keys of a plain object tree (mutates it). */
export function setAt(data: unknown, keys: Segment[], value: unknown): void {
  let v = data as Record<Segment, unknown>;
  for (const k of keys.slice(0, -1)) v = v[k] as Record<Segment, unknown>;
  v[keys[keys.length - 1]] = value;
}

/** The number at `path` of a (resolved) scenario; throws a message naming the path otherwise. */
export function numberAt(data: unknown, path: string): { keys: Segment[]; value: number } {
  const r = resolvePath(data, path);
  if ("error" in r) throw new Error(`${path}: ${r.error}`);
  const value = getAt(data, r.keys);
  if (typeof value !== "number") throw new Error(`${path}: found ${JSON.stringify(value)}, expected a number`);
  return { keys: r.keys, value };
}
