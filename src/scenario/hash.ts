// A scenario's identity: sha256 of its canonical JSON. Kept apart from the run-folder writer so
// that the engine (checkpoints) can name a scenario without loading DuckDB.
import { createHash } from "node:crypto";

/** JSON with object keys sorted recursively (arrays keep their order); no whitespace. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)) ?? "null";
}

function sortKeys(value: unknown): unknown {
  if (value !== null && typeof value === "object") {
    const withJson = value as { toJSON?: () => unknown };
    if (typeof withJson.toJSON === "function") return sortKeys(withJson.toJSON());
    if (Array.isArray(value)) return value.map((v) => (v === undefined || typeof v === "function" ? null : sortKeys(v)));
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v === undefined || typeof v === "function" || typeof v === "symbol") continue;
      out[key] = sortKeys(v);
    }
    return out;
  }
  if (typeof value === "bigint") return value.toString();
  return value;
}

/** sha256 hex of canonicalJson(scenario): equal for equal scenarios whatever their key order. */
export function scenarioHash(scenario: unknown): string {
  return createHash("sha256").update(canonicalJson(scenario)).digest("hex");
}
