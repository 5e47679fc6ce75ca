// `credence report <run> [--out FILE.html] [--pdf]`: the run as a report a reader can check.
import type { Command } from "commander";
import { resolve } from "node:path";
import { CliError, displayPath } from "./common.js";

interface ReportOpts {
  out?: string;
  pdf?: boolean;
}

async function reportCommand(runDir: string, opts: ReportOpts, version: string): Promise<number> {
  const { buildReportHtml, htmlToPdf } = await import("../report/report.js");
  const { writeFileAtomic } = await import("../io/atomic.js");
  const out = resolve(opts.out ?? `${resolve(runDir)}/report.html`);
  if (!/\.html?$/i.test(out)) throw new CliError(`--out ${displayPath(out)}: expected a file name ending in .html`);
  let html: string;
  try {
    html = await buildReportHtml(runDir, `Credence ${version}`);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  writeFileAtomic(out, html);
  process.stderr.write(`wrote ${displayPath(out)} (${Math.round(html.length / 1024)} KB)\n`);
  if (opts.pdf) {
    const pdf = out.replace(/\.html?$/i, ".pdf");
    await htmlToPdf(html, pdf);
    process.stderr.write(`wrote ${displayPath(pdf)}\n`);
  }
  return 0;
}

export function registerReport(cmd: Command, version: string): void {
  cmd
    .command("report")
    .description("write a self-contained HTML report of a run (scenario, parameters and sources, calibration, charts, ODD), and a PDF with --pdf")
    .argument("<run>", "run folder")
    .option("--out <file.html>", "where to write the HTML (default: <run>/report.html); the PDF goes beside it")
    .option("--pdf", "also print the report to PDF with headless Chromium")
    .action(async (run: string, opts: ReportOpts) => {
      process.exitCode = await reportCommand(run, opts, version);
    });
}
