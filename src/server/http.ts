// Small HTTP helpers for the dashboard server: errors that carry a status, JSON replies,
// bounded request bodies and parameter parsers whose messages name the parameter.
import type { IncomingMessage, ServerResponse } from "node:http";

export class HttpError extends Error {
  constructor(public status: number, message: string, public headers: Record<string, string> = {}) {
    super(message);
    this.name = "HttpError";
  }
}

/** Headers every reply carries: no sniffing, no framing, nothing loaded from elsewhere. */
export const SECURITY_HEADERS: Record<string, string> = {
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'",
};

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v));
  res.writeHead(status, { ...SECURITY_HEADERS, "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" });
  res.end(text);
}

export function sendError(res: ServerResponse, e: HttpError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(e.status, { ...SECURITY_HEADERS, ...e.headers, "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" });
  res.end(JSON.stringify({ error: e.message, status: e.status }));
}

/**
 * Reads a JSON body of at most `limit` bytes. A declared or actual size above the limit is a
 * 413 (the rest of the upload is not read), anything but JSON a 415, unparsable JSON a 400.
 */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = String(req.headers["content-type"] ?? "");
  if (!/^application\/json\b/i.test(type)) throw new HttpError(415, `expected a JSON body (Content-Type: application/json), got "${type || "none"}"`);
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) throw new HttpError(413, `body of ${declared} bytes is larger than the limit of ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, `body is larger than the limit of ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch (e) {
    throw new HttpError(400, `body is not valid JSON: ${(e as Error).message}`);
  }
}

/** A whole number parameter within [min, max]; `fallback` when absent (else required). */
export function intParam(params: URLSearchParams, name: string, min: number, max: number, fallback?: number): number {
  const raw = params.get(name);
  if (raw === null || raw === "") {
    if (fallback !== undefined) return fallback;
    throw new HttpError(400, `parameter "${name}" is required: a whole number from ${min} to ${max}`);
  }
  return intValue(raw, name, min, max);
}

export function intValue(raw: unknown, name: string, min: number, max: number): number {
  const n = typeof raw === "number" ? raw : typeof raw === "string" && /^\s*-?\d[\d_,]*\s*$/.test(raw) ? Number(raw.replace(/[_,\s]/g, "")) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new HttpError(400, `parameter "${name}": expected a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** One of `allowed`; `fallback` when absent. */
export function enumParam<T extends string>(params: URLSearchParams, name: string, allowed: readonly T[], fallback: T): T {
  const raw = params.get(name);
  if (raw === null || raw === "") return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new HttpError(400, `parameter "${name}": expected one of ${allowed.join(", ")}, got ${JSON.stringify(raw.slice(0, 80))}`);
  }
  return raw as T;
}
