// Writing a calibration down: the fitted values go into a copy of the scenario file, comments
// and layout kept, each changed value annotated with what it was; the report says what each
// target was before and after, and where each parameter's range of acceptable values ends.
import { writeFileAtomic } from "../io/atomic.js";
import { isMap, isScalar, parseDocument } from "yaml";
import { resolvePath, type Segment } from "../scenario/paths.js";
import type { CalibrationResult, RangeEdge, RangeResult } from "./calibrate.js";
import type { TargetResult } from "../model/result.js";


/**
 * Where `path` goes in the file: its keys in the file itself, or, for a value the file leaves
 * to the schema's default, the keys in the resolved scenario as long as every list on the way
 * is written in the file (a new key in a written object is added; a list element is not).
 */
function keysInFile(data: unknown, resolved: unknown, path: string): Segment[] {
  const r = resolvePath(data, path);
  if (!("error" in r)) return r.keys;
  const full = resolvePath(resolved, path);
  if ("error" in full) throw new Error(`${path}: ${full.error}`);
  let v: unknown = data;
  for (const k of full.keys) {
    if (typeof k === "number" && !Array.isArray(v)) throw new Error(`${path} is not written in this file (${r.error}); write it in the file (or its overlay) before calibrating`);
    v = v && typeof v === "object" ? (v as Record<Segment, unknown>)[k] : undefined;
  }
  return full.keys;
}

/**
 * The source text with each fitted value written in place: only the value (and its comment) on
 * its line changes, so layout, flow style and every other comment stay exactly as written. A
 * value the file left to its default is added as a new line at the end of its (block) map.
 */
export function calibratedYaml(sourceText: string, result: CalibrationResult, date: string, resolved: unknown): string {
  const doc = parseDocument(sourceText);
  const data = doc.toJS();
  const edits: { at: number; end: number; text: string }[] = [];
  const lineEnd = (i: number) => {
    const nl = sourceText.indexOf("\n", i);
    return nl < 0 ? sourceText.length : nl;
  };
  const note = (p: { before: number }, old: string) => {
    // What the comment said besides an earlier calibration's note (nothing: no trailing "; ").
    const kept = old.replace(/^calibrated .*?\)(; )?/, "").trim();
    return `# calibrated ${date} by credence calibrate (was ${p.before})${kept ? "; " + kept : ""}`;
  };
  for (const p of result.parameters) {
    const keys = keysInFile(data, resolved, p.path);
    const node = doc.getIn(keys, true);
    if (isScalar(node) && node.range) {
      const [start, valueEnd] = node.range;
      const rest = sourceText.slice(valueEnd, lineEnd(valueEnd));
      const comment = /^\s*(#\s?(.*))?$/.exec(rest);
      if (comment) edits.push({ at: start, end: lineEnd(valueEnd), text: `${p.after} ${note(p, (comment[2] ?? "").trim())}` });
      else edits.push({ at: start, end: valueEnd, text: String(p.after) }); // inside a flow collection: the value only
      continue;
    }
    const parent = doc.getIn(keys.slice(0, -1), true);
    const last = isMap(parent) && !parent.flow ? parent.items[parent.items.length - 1] : undefined;
    const lastKey = last && isScalar(last.key) ? last.key : undefined;
    const lastEnd = (last?.value as { range?: number[] } | null)?.range?.[1] ?? lastKey?.range?.[1];
    if (!lastKey?.range || lastEnd === undefined) throw new Error(`${p.path}: cannot add it to the file (its parent is not a block map); write it in the file first`);
    const lineStart = sourceText.lastIndexOf("\n", lastKey.range[0]) + 1;
    const indent = sourceText.slice(lineStart, lastKey.range[0]);
    let contentEnd = lastEnd; // a block value's range runs over the blank lines after it
    while (contentEnd > 0 && /\s/.test(sourceText[contentEnd - 1])) contentEnd--;
    const at = lineEnd(contentEnd);
    edits.push({ at, end: at, text: `\n${indent}${String(keys[keys.length - 1])}: ${p.after} ${note({ before: p.before }, "the schema's default until then")}` });
  }
  let out = sourceText;
  for (const e of edits.sort((a, b) => b.at - a.at)) out = out.slice(0, e.at) + e.text + out.slice(e.end);
  return out;
}

const fmt = (v: number | null) => (v === null ? "-" : Math.abs(v) >= 100 ? v.toFixed(1) : Number(v.toPrecision(3)).toString());

/** Where every target holds, e.g. "4.9 .. 12": the cells of a parameter's row, "-" without a range. */
export function rangeText(range: RangeResult, k: number): { holds: string; limits: string } {
  const r = range.ranges[k];
  if (!r) return { holds: "-", limits: "-" };
  const limit = (e: RangeEdge, side: string) =>
    e.limit === "bound" ? `${side}: the bound` : e.limit === "untried" ? `${side}: not tried` : `${side}: ${e.failing!.join(", ")} fail${e.failing!.length === 1 ? "s" : ""} at ${e.beyond}`;
  return { holds: `${r.low.value} .. ${r.high.value}`, limits: `${limit(r.low, "below")}; ${limit(r.high, "above")}` };
}

/** What the range step did, in a sentence or two (the report's and the CLI's). */
export function rangeSummary(range: RangeResult): string {
  if (range.missed.length) return `No range where every target holds: the best fit misses ${range.missed.join(", ")}.`;
  if (range.budget === 0) return "Range where every target holds: not estimated (calibration.rangeEvaluations is 0).";
  return `Range where every target holds: ${range.evaluations} evaluations (at most ${range.budget}) in ${range.seconds.toFixed(0)} s, on the same seeds, citizens and days as the fit. ` +
    "Each parameter was moved down and up from its best value with the others held at theirs (a one-dimensional profile): its calibration bound tried first, then the edge bisected between the last value where every target holds and the nearest where one fails. " +
    "Each edge lies between the value shown and the one where a target fails (\"fails at\"). " +
    "Held that way, the range is narrower than the set of all acceptable fits wherever parameters trade off, so read it as how far a parameter can move on its own, not as a joint region. " +
    "\"the bound\": every target still holds at the calibration bound, so the bound, not the data, limits the range.";
}

export function calibrationReport(name: string, result: CalibrationResult, opts: { population: number; days: number; seeds: number[] }): string {
  const row = (b: TargetResult, a: TargetResult) =>
    `| ${b.metric} | ${fmt(b.target)} ± ${Math.round(b.tolerance * 100)}% | ${fmt(b.simulated)} ${b.pass ? "pass" : "FAIL"} | ${fmt(a.simulated)} ${a.pass ? "pass" : "FAIL"} |`;
  return [
    `# Calibration of ${name}`,
    "",
    `${result.evaluations} evaluations in ${result.seconds.toFixed(0)} s, each the mean of seeds ${opts.seeds.join(", ")} at ${opts.population.toLocaleString("en")} citizens x ${opts.days} days (Nelder-Mead on common random numbers). Loss (sum of squared deviations in tolerance units): ${result.before.loss.toFixed(3)} before, ${result.after.loss.toFixed(3)} after.`,
    "",
    rangeSummary(result.range),
    "",
    "| parameter | bounds | before | best | every target holds | limited by |",
    "|---|---|---|---|---|---|",
    ...result.parameters.map((p, k) => {
      const r = rangeText(result.range, k);
      return `| ${p.path} | ${p.min} .. ${p.max} | ${p.before} | ${p.after} | ${r.holds} | ${r.limits} |`;
    }),
    "",
    "| target | value | before | after |",
    "|---|---|---|---|",
    ...result.before.targets.map((b, k) => row(b, result.after.targets[k])),
    "",
  ].join("\n");
}

/** `sourceText`: the scenario file as read once by the caller (the fit's file, not one changed since). */
export function writeCalibration(sourceText: string, resolved: unknown, outFile: string, reportFile: string, result: CalibrationResult, report: string, date: string): void {
  writeFileAtomic(outFile, calibratedYaml(sourceText, result, date, resolved));
  writeFileAtomic(reportFile, report);
}
