// What every command shares: the package's root and version, errors that end a command with
// a message and an exit code, argument parsers and small display helpers.
import { InvalidArgumentError, Option } from "commander";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
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
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new InvalidArgumentError(`expected a whole number from ${fmtInt(min)} to ${fmtInt(max)}, got "${value}"`);
  }
  return n;
};

/** An address given as HOST:PORT (for the shard processes' connections). */
export const addressArg = (value: string): { host: string; port: number } => {
  const m = /^(.+):(\d+)$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new InvalidArgumentError(`expected HOST:PORT with a port from 1 to 65535, got "${value}"`);
  return { host: m[1], port };
};

// Where the shards run, as run and resume take it (fresh Options: commander binds one to one command).
export const transportOption = (): Option =>
  new Option("--transport <how>", "where shards other than the calling thread's run: worker threads over shared memory, or processes of their own on loopback that exchange only messages (results do not depend on it)").choices(["threads", "processes"]).default("threads");
export const listenOption = (): Option =>
  new Option("--listen <host:port>", "with --transport processes: do not start the shard processes here; wait for them on this address (shard k on port + k - 1), each started with `credence shard --connect`").argParser(addressArg);

/** JSON with bigint values (DuckDB BIGINT) as numbers. */
export const toJson = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? Number(x) : x), 2);

export const shellQuote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export const displayPath = (p: string): string => {
  const rel = relative(process.cwd(), p);
  return rel && !rel.startsWith("..") && !rel.startsWith("/") ? rel : p;
};

export function printScenarioError(e: ScenarioError, stream: NodeJS.WriteStream): void {
  stream.write(`${e.source}: ${e.problems.length} problem${e.problems.length === 1 ? "" : "s"}\n`);
  for (const p of e.problems) stream.write(formatProblem(p) + "\n");
}
