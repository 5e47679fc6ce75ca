// Parameter paths: how calibration, comparisons and sweeps name one value of a scenario.
// Dotted segments; inside a list, a segment picks the element by numeric index (also written
// `[n]`) or whose `id` (or `name`) matches: `behaviours.judgment-default.ratePerYear`,
// `lists.low-score.entry.scoreBelow`, `consequences.sanctions.flights.attemptsPerYear`,
// `population.regions.0.weight`, `lists[2].published`.

export type Segment = string | number;

/** Keys as people write them: `lists[0].entry.scoreBelow`. */
export const pathString = (path: readonly PropertyKey[]): string =>
  path.reduce<string>((acc, k) => (typeof k === "number" ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), "");

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

const segmentsOf = (path: string): string[] => path.replace(/\[(\d+)\]/g, ".$1").split(".");

/** The index of the list element `seg` names, or -1. */
function elementIndex(list: unknown[], seg: string): number {
  if (/^\d+$/.test(seg)) return Number(seg) < list.length ? Number(seg) : -1;
  return list.findIndex((e) => isObject(e) && (e.id === seg || e.name === seg));
}

/** The concrete keys (array indices resolved) of `path` in `data`, or an error naming the first bad segment. */
export function resolvePath(data: unknown, path: string): { keys: Segment[] } | { error: string } {
  const keys: Segment[] = [];
  let v: unknown = data;
  for (const seg of segmentsOf(path)) {
    if (Array.isArray(v)) {
      const k = elementIndex(v, seg);
      if (k < 0) return { error: `no element with id "${seg}" in ${keys.join(".") || "(root)"}` };
      keys.push(k);
      v = v[k];
    } else if (v && typeof v === "object" && Object.hasOwn(v, seg)) {
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

/** The number at `path` of a (resolved) scenario; throws a message naming the path otherwise. */
export function numberAt(data: unknown, path: string): { keys: Segment[]; value: number } {
  const r = resolvePath(data, path);
  if ("error" in r) throw new Error(`${path}: ${r.error}`);
  const value = getAt(data, r.keys);
  if (typeof value !== "number") throw new Error(`${path}: found ${JSON.stringify(value)}, expected a number`);
  return { keys: r.keys, value };
}

/**
 * Set `value` at `path` of a plain object tree (mutates it), creating missing sections on the
 * way; returns the concrete keys. Throws a message naming the segment that cannot be reached.
 */
export function setPath(data: Record<string, unknown>, path: string, value: unknown): Segment[] {
  const segments = segmentsOf(path);
  if (segments.some((s) => s === "")) throw new Error(`"${path}" is not a dotted field path`);
  const keys: Segment[] = [];
  let node: unknown = data;
  segments.forEach((seg, i) => {
    const last = i === segments.length - 1;
    const here = keys.length ? pathString(keys) : "(root)";
    if (Array.isArray(node)) {
      const k = elementIndex(node, seg);
      if (k < 0) {
        const ids = node.map((e, j) => (isObject(e) ? String(e.id ?? e.name ?? j) : String(j)));
        throw new Error(`${here} has no element "${seg}" (it has ${ids.join(", ")})`);
      }
      keys.push(k);
      if (last) node[k] = value;
      else node = node[k];
      return;
    }
    if (!isObject(node)) throw new Error(`${here} is a value (${JSON.stringify(node)}), not a section with fields`);
    keys.push(seg);
    if (last) node[seg] = value;
    else {
      if (node[seg] === undefined) node[seg] = {};
      node = node[seg];
    }
  });
  return keys;
}
