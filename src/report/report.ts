// `credence report`: a run folder -> one self-contained HTML file, and its PDF when asked.
// Both are written to a temporary name and renamed into place (io/atomic.ts).
import { writeFileAtomic } from "../io/atomic.js";
import { loadReportData } from "./data.js";
import { renderHtml } from "./html.js";

export const CHROMIUM = "/usr/bin/chromium";

export async function buildReportHtml(runDir: string, generatedBy: string): Promise<string> {
  return renderHtml(await loadReportData(runDir), { generatedBy });
}

export async function writeReport(runDir: string, outHtml: string, generatedBy: string): Promise<string> {
  const html = await buildReportHtml(runDir, generatedBy);
  writeFileAtomic(outHtml, html);
  return html;
}

/** Print the HTML to an A4 PDF with headless Chromium (playwright-core drives it). */
export async function htmlToPdf(html: string, outPdf: string, executablePath = process.env.CREDENCE_CHROMIUM ?? CHROMIUM): Promise<void> {
  let chromium: typeof import("playwright-core").chromium;
  try {
    ({ chromium } = await import("playwright-core"));
  } catch {
    throw new Error("--pdf needs the playwright-core package (npm install playwright-core)");
  }
  const browser = await chromium.launch({
    executablePath,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  }).catch((e: Error) => {
    throw new Error(`--pdf could not start Chromium at ${executablePath} (set CREDENCE_CHROMIUM to another binary): ${e.message.split("\n")[0]}`);
  });
  try {
    const page = await browser.newPage();
    // Nothing in the report may come from the network; refuse any request that tries.
    await page.route(/^https?:/, (route) => route.abort());
    await page.setContent(html, { waitUntil: "load" });
    const pdf = await page.pdf({
      format: "A4",
      printBackground: true,
      preferCSSPageSize: true,
      displayHeaderFooter: true,
      headerTemplate: "<span></span>",
      footerTemplate: `<div style="font: 8px Helvetica, Arial, sans-serif; color: #5b6573; width: 100%; padding: 0 16mm; display: flex; justify-content: space-between;"><span class="title"></span><span><span class="pageNumber"></span> / <span class="totalPages"></span></span></div>`,
    });
    writeFileAtomic(outPdf, pdf);
  } finally {
    await browser.close();
  }
}
