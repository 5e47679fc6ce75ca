// Scenarios that extend another: `extends: china-2018.yaml` (a path relative to the file) takes
// that scenario and changes a few keys, so a counterfactual is a handful of lines that say
// exactly what differs. Objects merge key by key; a list of elements with ids can be patched by
// id (`behaviours: { jaywalking: { points: 0 } }`); `null` removes the base's key (back to the
// schema's default); anything else replaces the base's value, except `timeline:`, whose entries
// are added to the base's (see mergeTimelines).
import { dirname, resolve } from "node:path";
import type { Problem } from "./load.js";
import { mergeTimelines, sortByDate } from "./timeline.js";

const MAX_DEPTH = 8;

const isPlainObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);

const elementKey = (e: unknown): unknown => (isPlainObject(e) ? (e.id ?? e.name) : undefined);

export function mergeOverlay(base: unknown, patch: unknown, path: string, problems: Problem[]): unknown {
  if (isPlainObject(patch) && isPlainObject(base)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete out[k];
      else out[k] = mergeOverlay(base[k], v, path ? `${path}.${k}` : k, problems);
    }
    return out;
  }
  if (isPlainObject(patch) && Array.isArray(base) && base.some((e) => elementKey(e) !== undefined)) {
    const out = [...base];
    for (const [k, v] of Object.entries(patch)) {
      const i = out.findIndex((e) => elementKey(e) === k);
      if (i < 0) {
        problems.push({ path: `${path}.${k}`, found: JSON.stringify(k), expected: `the id of an element of ${path} in the extended scenario (${base.map(elementKey).filter((x) => x !== undefined).join(", ")})` });
        continue;
      }
      out[i] = mergeOverlay(out[i], v, `${path}.${k}`, problems);
    }
    return out;
  }
  return patch;
}

/**
 * Resolve `extends` chains: returns the merged plain data (without `extends`) or the problems.
 * `read(path)` parses a file to plain data (the loader's YAML reader, so errors look alike).
 */
export function resolveExtends(data: unknown, file: string, read: (path: string) => unknown, seen: string[] = []): { data: unknown; problems: Problem[] } {
  if (!isPlainObject(data) || data.extends === undefined) return { data, problems: [] };
  const { extends: parent, ...rest } = data;
  if (typeof parent !== "string" || !parent) {
    return { data, problems: [{ path: "extends", found: JSON.stringify(parent), expected: "the path of a scenario file, relative to this one" }] };
  }
  const basePath = resolve(dirname(file), parent);
  if (seen.includes(basePath) || basePath === resolve(file)) {
    return { data, problems: [{ path: "extends", found: JSON.stringify(parent), expected: `a scenario that does not extend this one again (cycle: ${[...seen, basePath].join(" -> ")})` }] };
  }
  if (seen.length >= MAX_DEPTH) return { data, problems: [{ path: "extends", found: `a chain of ${seen.length + 1} files`, expected: `at most ${MAX_DEPTH} levels of extends` }] };
  let baseData: unknown;
  try {
    baseData = read(basePath);
  } catch (e) {
    const msg = (e as NodeJS.ErrnoException).code ? `no readable file (${(e as NodeJS.ErrnoException).code})` : (e as Error).message.split("\n")[0];
    return { data, problems: [{ path: "extends", found: `${JSON.stringify(parent)}: ${msg}`, expected: "a readable scenario file, relative to this one" }] };
  }
  const base = resolveExtends(baseData, basePath, read, [...seen, resolve(file)]);
  if (base.problems.length) return { data, problems: base.problems.map((p) => ({ ...p, path: `extends(${parent}).${p.path}` })) };
  const problems: Problem[] = [];
  const merged = mergeOverlay(base.data, rest, "", problems);
  // A timeline is a history: a child's list of entries adds to the parent's rather than replacing
  // it; a mapping patches the parent's entries by id (merged above), which may move their dates.
  if (isPlainObject(merged) && isPlainObject(base.data)) {
    if (Array.isArray(rest.timeline)) merged.timeline = mergeTimelines(base.data.timeline, rest.timeline, problems);
    else if (isPlainObject(rest.timeline) && Array.isArray(merged.timeline)) merged.timeline = sortByDate(merged.timeline);
  }
  return { data: merged, problems };
}
