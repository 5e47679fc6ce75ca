// The only two places the server reads files from: run folders directly inside the runs
// folder, and the static bundle. Every path is checked twice: the name must be a plain folder
// or file name (no separators, no "..", nothing absolute), and the real path, after symlinks,
// must still lie inside the root. A run folder must moreover be a folder, not a symbolic link
// (and its files are checked the same way where they are opened). Anything else is refused
// before a file is opened.
import { lstatSync, realpathSync, statSync } from "node:fs";
import { extname, isAbsolute, join, relative, sep } from "node:path";
import { HttpError } from "./http.js";

/** Run folder names as the server writes them and accepts them. */
export const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** True when `child` (a real path) lies inside `root` (a real path) or is it. */
export function inside(root: string, child: string): boolean {
  const rel = relative(root, child);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel) && !rel.split(sep).includes(".."));
}

/** A name that tries to leave its folder: separators, "..", absolute, NUL. */
function escapes(name: string): boolean {
  return name.includes("/") || name.includes("\\") || name.includes("\0") || name.split(/[\\/]/).includes("..") || name === ".." || isAbsolute(name);
}

/**
 * The real path of run folder `id` in `runsRoot` (itself a real path). 403 for a name that
 * leads outside the runs folder or a symbolic link, 400 for a malformed name, 404 when absent.
 */
export function runFolder(runsRoot: string, id: string): string {
  if (escapes(id) || id.startsWith(".")) throw new HttpError(403, `parameter "run": ${JSON.stringify(id.slice(0, 80))} is outside the run folder`);
  if (!RUN_ID.test(id) || id.includes(".partial-")) throw new HttpError(400, `parameter "run": ${JSON.stringify(id.slice(0, 80))} is not a run name (letters, digits, . _ -)`);
  let real: string;
  try {
    if (lstatSync(join(runsRoot, id)).isSymbolicLink()) throw new HttpError(403, `parameter "run": ${JSON.stringify(id)} is a symbolic link, not a run folder`);
    real = realpathSync(join(runsRoot, id));
  } catch (e) {
    if (e instanceof HttpError) throw e;
    throw new HttpError(404, `no run named ${JSON.stringify(id)}`);
  }
  if (!inside(runsRoot, real)) throw new HttpError(403, `parameter "run": ${JSON.stringify(id)} leads outside the run folder`);
  if (!statSync(real).isDirectory()) throw new HttpError(404, `no run named ${JSON.stringify(id)}`);
  return real;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
  ".woff2": "font/woff2",
};

export const contentType = (file: string): string => TYPES[extname(file).toLowerCase()] ?? "application/octet-stream";

/**
 * The real path of the static file for URL path `pathname` (already percent-decoded once) in
 * `staticRoot`, or null when there is none. 403 for anything that would leave the bundle.
 */
export function staticFile(staticRoot: string, pathname: string): string | null {
  const parts = pathname.split("/").filter((p) => p !== "");
  if (parts.some((p) => p === ".." || p === "." || p.includes("\\") || p.includes("\0") || p.includes(":"))) {
    throw new HttpError(403, `path ${JSON.stringify(pathname.slice(0, 120))} is outside the dashboard`);
  }
  const candidate = parts.length ? join(staticRoot, ...parts) : join(staticRoot, "index.html");
  let real: string;
  try {
    real = realpathSync(candidate);
  } catch {
    return null;
  }
  if (!inside(staticRoot, real)) throw new HttpError(403, `path ${JSON.stringify(pathname.slice(0, 120))} is outside the dashboard`);
  try {
    return statSync(real).isFile() ? real : null;
  } catch {
    return null;
  }
}
