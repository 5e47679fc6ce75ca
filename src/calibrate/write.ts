// Writing a calibration down: the fitted values go into a copy of the scenario file, comments
// and layout kept, each changed value annotated with what it was; the report says what each
// target was before and after.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { isScalar, parseDocument } from "yaml";
import { resolvePath } from "../scenario/paths.js";
import type { CalibrationResult } from "./calibrate.js";
import type { TargetResult } from "../engine/result.js";

/** Write `text` to `file` through a temporary name, so no reader sees half a file. */
export function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

export function calibratedYaml(sourceText: string, result: CalibrationResult, date: string): string {
  const doc = parseDocument(sourceText);
  const data = doc.toJS();
  for (const p of result.parameters) {
    const r = resolvePath(data, p.path);
    if ("error" in r) throw new Error(`${p.path} is not written in this file (${r.error}); set it in the file (or its overlay) before calibrating`);
    const node = doc.getIn(r.keys, true);
    const old = isScalar(node) && node.comment ? node.comment.trim() : "";
    doc.setIn(r.keys, p.after);
    const fresh = doc.getIn(r.keys, true);
    if (isScalar(fresh)) fresh.comment = ` calibrated ${date} by credence calibrate (was ${p.before})${old ? "; " + old.replace(/^calibrated .*?\); /, "") : ""}`;
  }
  return doc.toString({ lineWidth: 0 });
}

const fmt = (v: number | null) => (v === null ? "-" : Math.abs(v) >= 100 ? v.toFixed(1) : Number(v.toPrecision(3)).toString());

export function calibrationReport(name: string, result: CalibrationResult, opts: { population: number; days: number; seeds: number[] }): string {
  const row = (b: TargetResult, a: TargetResult) =>
    `| ${b.metric} | ${fmt(b.target)} ± ${Math.round(b.tolerance * 100)}% | ${fmt(b.simulated)} ${b.pass ? "pass" : "FAIL"} | ${fmt(a.simulated)} ${a.pass ? "pass" : "FAIL"} |`;
  return [
    `# Calibration of ${name}`,
    "",
    `${result.evaluations} evaluations in ${result.seconds.toFixed(0)} s, each the mean of seeds ${opts.seeds.join(", ")} at ${opts.population.toLocaleString("en")} citizens x ${opts.days} days (Nelder-Mead on common random numbers). Loss (sum of squared deviations in tolerance units): ${result.before.loss.toFixed(3)} before, ${result.after.loss.toFixed(3)} after.`,
    "",
    "| parameter | range | before | after |",
    "|---|---|---|---|",
    ...result.parameters.map((p) => `| ${p.path} | ${p.min} .. ${p.max} | ${p.before} | ${p.after} |`),
    "",
    "| target | value | before | after |",
    "|---|---|---|---|",
    ...result.before.targets.map((b, k) => row(b, result.after.targets[k])),
    "",
  ].join("\n");
}

export function writeCalibration(sourceFile: string, outFile: string, reportFile: string, result: CalibrationResult, report: string, date: string): void {
  writeAtomic(outFile, calibratedYaml(readFileSync(sourceFile, "utf8"), result, date));
  writeAtomic(reportFile, report);
}
