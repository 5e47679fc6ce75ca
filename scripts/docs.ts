// `npm run docs`: regenerate docs/outputs.md (every table and column of run.duckdb, from the
// descriptions the tables carry) and docs/scenario-reference.md (every scenario field).
// A test checks that the committed files match, so the docs cannot drift from the code.
import { readFileSync } from "node:fs";
import { writeFileAtomic } from "../src/io/atomic.js";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { outputsMarkdown } from "../src/cli/outputs-doc.js";
import { schemaMarkdown } from "../src/cli/schema-doc.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
writeFileAtomic(join(root, "docs", "outputs.md"), outputsMarkdown());
const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version as string;
writeFileAtomic(join(root, "docs", "scenario-reference.md"), schemaMarkdown(version));
console.log("wrote docs/outputs.md and docs/scenario-reference.md");
