// What every command shares: the package's root and version, errors that end a command with
// a message and an exit code, argument parsers and small display helpers.
import { InvalidArgumentError } from "commander";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { formatProblem, type ScenarioError } from "../scenario/load.js";
import { fmtInt } from "./format.js";

/** The folder holding credence's package.json (dist/src/cli is three levels below it). */
export function packageRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const p = join(dir, "package.json");
    if (existsSync(p)) {
      try {
        if ((JSON.parse(readFileSync(p, "utf8")) as { name?: string }).name === "credence") return dir;
      } catch {
        // not ours; keep looking
      }
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

export function packageVersion(): string {
  const root = packageRoot();
  if (!root) return "0.0.0";
  try {
    return (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version?: string }).version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}

export class CliError extends Error {
  constructor(message: string, public exitCode = 1) {
    super(message);
    this.name = "CliError";
  }
}

export const intArg = (min: number, max: number) => (value: string): number => {
  const n = Number(value.replace(/[_,]/g, ""));
  // Number("") is 0: an empty value is no number.
  if (!/\d/.test(value) || !Number.isInteger(n) || n < min || n > max) {
    throw new InvalidArgumentError(`expected a whole number from ${fmtInt(min)} to ${fmtInt(max)}, got "${value}"`);
  }
  return n;
};

/** Seeds as "1,2,3": 1 to 16 distinct whole numbers from 0 to 2^32 - 1, as `calibration.seeds` allows. */
export const seedListArg = (value: string): number[] => {
  const parts = value.split(",").map((x) => x.trim());
  if (parts.length > 16) throw new InvalidArgumentError(`expected at most 16 seeds, got ${parts.length}`);
  const seeds = parts.map((x) => intArg(0, 4_294_967_295)(x));
  if (new Set(seeds).size < seeds.length) throw new InvalidArgumentError("expected each seed once");
  return seeds;
};

/** JSON with bigint values (DuckDB BIGINT) as numbers. */
export const toJson = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? Number(x) : x), 2);

// Shared with the library's run lifecycle, which must not import this CLI module.
export { displayPath, shellQuote } from "../run/run.js";

export function printScenarioError(e: ScenarioError, stream: NodeJS.WriteStream): void {
  stream.write(`${e.source}: ${e.problems.length} problem${e.problems.length === 1 ? "" : "s"}\n`);
  for (const p of e.problems) stream.write(formatProblem(p) + "\n");
}
