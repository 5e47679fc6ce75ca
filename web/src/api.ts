// Fetch helpers for the server's JSON API (src/server/server.ts).
export class ApiError extends Error {
  constructor(public status: number, message: string) {
    super(message);
  }
}

export async function api<T>(path: string, init?: RequestInit): Promise<T> {
  // The server refuses a POST without this header: a page on another site cannot send it.
  const headers = init?.method && init.method !== "GET" ? { ...init.headers, "X-Credence": "1" } : init?.headers;
  const res = await fetch(`api/${path}`, { ...init, headers });
  const body = await res.json().catch(() => ({ error: res.statusText }));
  if (!res.ok) throw new ApiError(res.status, (body as { error?: string }).error ?? res.statusText);
  return body as T;
}

export type Row = Record<string, any>;

export type { Job, RunListing } from "../../src/server/api-types";


export interface Overview {
  id: string;
  name: string;
  title: string;
  population: number;
  days: number;
  seed: number;
  startDate: string;
  createdAt: string;
  wallSeconds: number;
  version: string;
  secrecy: string;
  lists: { id: string; kind: "black" | "red"; reported?: boolean }[];
  summary: { metrics: Record<string, number | null>; lists: Row[] };
  metrics: string[];
  regionMetrics: string[];
  trailSample: number;
}

/** The daily series for the charts; one request per page. */
export const series = (run: string, metrics: string[]) =>
  api<{ rows: Row[] }>(`runs/${encodeURIComponent(run)}/series?metrics=${metrics.map(encodeURIComponent).join(",")}`).then((r) => r.rows);
