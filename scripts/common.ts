// What the scripts that regenerate documents from runs share: where the project is, their
// numeric options, and the scenarios in the box.
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { loadScenario } from "../src/scenario/load.js";
import type { Scenario } from "../src/scenario/schema.js";

/** The project's root (scripts run from dist/scripts). */
export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The number after `--<name>` on the command line, if given. */
export const arg = (name: string): number | undefined => {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? Number(process.argv[k + 1]) : undefined;
};

/** The project's version, as documents state it. */
export const version = (): string => JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;

/** Every scenario in scenarios/, by file name; `overlay` is the file it extends, if any (a counterfactual of china-2018 extends china-2018.yaml). */
export function shippedScenarios(): { file: string; s: Scenario; overlay?: string }[] {
  const dir = join(root, "scenarios");
  return readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort()
    .map((f) => ({ file: f, s: loadScenario(join(dir, f)), overlay: /^extends:\s*"?([^"\s#]+)/m.exec(readFileSync(join(dir, f), "utf8"))?.[1] }));
}
