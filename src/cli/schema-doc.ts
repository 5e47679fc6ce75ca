// The scenario field reference (docs/scenario-reference.md), generated from the zod schema so
// that it can never drift from what `credence validate` accepts: one row per field path with
// its type and range, its default and its description.
import { z } from "zod";
import { ScenarioSchema } from "../scenario/schema.js";

/** The subset of JSON Schema that z.toJSONSchema produces for the scenario schema. */
interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema | false;
  prefixItems?: JsonSchema[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  pattern?: string;
  format?: string;
}

export interface FieldRow {
  path: string;
  type: string;
  /** Rendered default: a JSON value, "required", or "" for optional fields without one. */
  default: string;
  description: string;
}

const ID_PATTERN = "^[a-z][a-z0-9-]*$";

function range(s: JsonSchema): string {
  const fmt = (n: number): string => {
    const abs = Math.abs(n);
    const exp = abs > 0 ? Math.floor(Math.log10(abs)) : 0;
    if (abs >= 1e6 && Number.isInteger(n / 10 ** exp)) return `${n / 10 ** exp}e${exp}`;
    return abs >= 10_000 ? n.toLocaleString("en-US") : String(n);
  };
  const lo = s.minimum !== undefined ? { v: s.minimum, strict: false } : s.exclusiveMinimum !== undefined ? { v: s.exclusiveMinimum, strict: true } : undefined;
  const hi = s.maximum !== undefined ? { v: s.maximum, strict: false } : s.exclusiveMaximum !== undefined ? { v: s.exclusiveMaximum, strict: true } : undefined;
  if (lo && hi && !lo.strict && !hi.strict) return `${fmt(lo.v)} to ${fmt(hi.v)}`;
  const parts: string[] = [];
  if (lo) parts.push(`${lo.strict ? ">" : "≥"} ${fmt(lo.v)}`);
  if (hi) parts.push(`${hi.strict ? "<" : "≤"} ${fmt(hi.v)}`);
  return parts.join(", ");
}

/** A short human description of a JSON Schema type with its constraints. */
export function describeType(s: JsonSchema): string {
  if (s.enum) return `one of ${s.enum.map((v) => `\`${String(v)}\``).join(", ")}`;
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return alts.map(describeType).join(" or ");
  const type = Array.isArray(s.type) ? s.type.join(" or ") : s.type;
  switch (type) {
    case "number":
    case "integer": {
      const r = range(s);
      return r ? `${type} (${r})` : type;
    }
    case "string":
      if (s.format === "date") return "date (YYYY-MM-DD)";
      if (s.pattern === ID_PATTERN) return "id (lower-case letters, digits, `-`)";
      if (s.pattern) return `string matching \`${s.pattern}\``;
      if (s.minLength) return "text (non-empty)";
      return "text";
    case "boolean":
      return "boolean";
    case "array": {
      // A tuple (a ramp's two ends): its items in order.
      if (s.prefixItems) return `[${s.prefixItems.map(describeType).join(", ")}]`;
      const item = s.items ? (s.items.type === "object" && s.items.properties ? "objects" : describeType(s.items)) : "values";
      const n = s.minItems !== undefined && s.maxItems !== undefined ? ` (${s.minItems} to ${s.maxItems})`
        : s.minItems !== undefined ? ` (at least ${s.minItems})` : s.maxItems !== undefined ? ` (at most ${s.maxItems})` : "";
      return `list of ${item}${n}`;
    }
    case "object":
      if (!s.properties && s.additionalProperties && typeof s.additionalProperties === "object") {
        const keys = s.propertyNames?.enum ? s.propertyNames.enum.map(String).join(" / ") : "name";
        return `map of ${keys} → ${describeType(s.additionalProperties)}`;
      }
      return "object";
    default:
      return type ?? "any";
  }
}

const code = (v: unknown) => `\`${JSON.stringify(v)}\``;

/**
 * Walk the input JSON Schema. `inherited` is the value a parent's default supplies for this
 * field when the parent is left out (consequences.sanctions.flights supplies attemptsPerYear).
 */
function walk(s: JsonSchema, path: string, required: boolean, inherited: unknown, out: FieldRow[]): void {
  const own = s.default;
  let def: string;
  if (own !== undefined && inherited !== undefined && JSON.stringify(own) !== JSON.stringify(inherited)) {
    def = `${code(inherited)} (${code(own)} if the enclosing object is written without it)`;
  } else if (own !== undefined) {
    def = isEmptyContainer(own) && s.type === "object" ? "" : code(own);
  } else if (inherited !== undefined) {
    def = code(inherited) + (required ? " (required if the enclosing object is written)" : "");
  } else def = required ? "required" : "";

  if (path) out.push({ path, type: describeType(s), default: def, description: (s.description ?? "").replace(/\s+/g, " ").trim() });

  const base = own ?? inherited;
  if (s.properties) {
    const req = new Set(s.required ?? []);
    for (const [key, child] of Object.entries(s.properties)) {
      const childInherited = base && typeof base === "object" && !Array.isArray(base) ? (base as Record<string, unknown>)[key] : undefined;
      walk(child, path ? `${path}.${key}` : key, req.has(key), childInherited, out);
    }
  } else if (s.type === "object" && s.additionalProperties && typeof s.additionalProperties === "object") {
    const keyName = s.propertyNames?.enum ? "<key>" : "<name>";
    const child = s.additionalProperties;
    if (child.properties) walk(child, `${path}.${keyName}`, false, undefined, out);
  }
  if (s.type === "array" && s.items && s.items.properties) {
    walk({ ...s.items, description: undefined }, `${path}[]`, false, undefined, out);
  }
}

const isEmptyContainer = (v: unknown) => v !== null && typeof v === "object" && Object.keys(v as object).length === 0;

export function scenarioJsonSchema(): JsonSchema {
  return z.toJSONSchema(ScenarioSchema, { io: "input", unrepresentable: "any" }) as JsonSchema;
}

/** One row per field path of the scenario schema, in schema order. */
export function fieldRows(): FieldRow[] {
  const rows: FieldRow[] = [];
  walk(scenarioJsonSchema(), "", true, undefined, rows);
  // Item rows of arrays (`lists[]`) carry no information of their own beyond their fields.
  return rows.filter((r) => !(r.path.endsWith("[]") && r.type === "object" && !r.description));
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The Markdown field reference. */
export function schemaMarkdown(version: string): string {
  const rows = fieldRows();
  const lines = [
    "# Scenario reference",
    "",
    `<!-- Generated by \`credence schema --out docs/scenario-reference.md\` (credence ${version}) from src/scenario/schema.ts. Do not edit by hand. -->`,
    "",
    "Every field a scenario file may contain. Paths use dots for nesting and `[]` for the items of a list",
    "(`lists[].entry.scoreBelow` is `scoreBelow` under `entry` in any item of `lists`); `<name>` and `<key>`",
    "stand for the keys of a map. Unknown keys are errors. Fields marked *required* must be given; others fall",
    "back to the default shown (empty: optional, no default). Ranges are inclusive unless written with `<` or `>`.",
    "",
    "| Field | Type | Default | Description |",
    "| --- | --- | --- | --- |",
    ...rows.map((r) => `| \`${cell(r.path)}\` | ${cell(r.type)} | ${r.default === "required" ? "*required*" : cell(r.default)} | ${cell(r.description)} |`),
    "",
    `${rows.length} fields.`,
    "",
  ];
  return lines.join("\n");
}
