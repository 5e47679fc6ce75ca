// The dashboard's HTTP server (node:http, no framework): a JSON API over the run folder, a
// server-sent event stream per run in progress, and the static bundle of web/ (dist/web).
// It reads nothing but the run folders directly inside the runs folder and the bundle.
//
// A page on another site must not be able to use it: a request must name the server by a
// loopback name (or one allowed with --allow-host) in its Host header, which defeats DNS
// rebinding; an Origin header, when sent, must be this server; and every POST must carry the
// header X-Credence: 1, which a cross-site form cannot send and a cross-site script can send
// only after a CORS preflight that this server never grants.
import { createReadStream, mkdirSync, realpathSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { enumParam, HttpError, intParam, intValue, readJsonBody, SECURITY_HEADERS, sendError, sendJson } from "./http.js";
import { bundledScenarios, Jobs, listRuns } from "./jobs.js";
import { ClientLimiter, DEFAULT_LIMITS, type LimitOptions } from "./limits.js";
import type { Machine } from "../scenario/limits.js";
import { allowedHosts, hostName, LOOPBACK_NAMES } from "./hosts.js";
import { contentType, runFolder, staticFile } from "./paths.js";
import { RunCache } from "./queries.js";

export interface ServeOptions {
  runsDir: string;
  staticDir: string;
  scenariosDir: string;
  version: string;
  host?: string;
  port?: number;
  limits?: LimitOptions;
  /** Largest request body in bytes. */
  maxBody?: number;
  /** Largest population a run started from the page may have. */
  maxPopulation?: number;
  /** Host names besides the loopback ones that requests may address the server by. */
  allowHosts?: string[];
  /** The memory a run started from the page must fit in (default: this machine now). */
  machine?: () => Machine;
}

export interface DashboardServer {
  server: Server;
  url: string;
  close: () => Promise<void>;
}

const MAX_URL = 2048;

export async function startServer(options: ServeOptions): Promise<DashboardServer> {
  mkdirSync(options.runsDir, { recursive: true });
  const runsRoot = realpathSync(options.runsDir);
  const staticRoot = realpathSync(options.staticDir);
  const maxBody = options.maxBody ?? 4096;
  const maxPopulation = options.maxPopulation ?? 20_000_000;
  const cache = new RunCache();
  const jobs = new Jobs(runsRoot, options.scenariosDir, options.version, options.machine);
  const limiter = new ClientLimiter(options.limits ?? DEFAULT_LIMITS);
  const streams = new Set<ServerResponse>();
  // Validating the bundled scenarios takes a moment; they do not change while serving.
  let scenarios: ReturnType<typeof bundledScenarios> | null = null;
  // Known once listening (the port may be chosen by the system).
  let hosts = new Set<string>();

  /** 421 for a Host that is not this server's, 403 for a foreign Origin or a POST without X-Credence. */
  function checkCaller(req: IncomingMessage): void {
    const host = String(req.headers.host ?? "").toLowerCase();
    if (!hosts.has(host)) {
      throw new HttpError(421, `this server answers only to its loopback names (and those given with credence serve --allow-host), not ${JSON.stringify(host.slice(0, 80))}`);
    }
    const origin = req.headers.origin;
    if (origin !== undefined) {
      let same = false;
      try {
        const u = new URL(origin);
        same = u.protocol === "http:" && hosts.has(u.host);
      } catch {
        // "null" and other opaque origins are foreign
      }
      if (!same) throw new HttpError(403, `requests from ${JSON.stringify(origin.slice(0, 80))} are refused: only the dashboard's own pages may call this server`);
    }
    if (req.method !== "GET" && req.method !== "HEAD" && req.headers["x-credence"] !== "1") {
      throw new HttpError(403, `${req.method} requests need the header "X-Credence: 1" (the dashboard's pages send it)`);
    }
  }

  async function api(req: IncomingMessage, res: ServerResponse, parts: string[], params: URLSearchParams): Promise<void> {
    const method = req.method ?? "GET";
    const route = parts.join("/");
    if (method === "POST" && route === "runs") {
      const body = await readJsonBody(req, maxBody);
      if (body === null || typeof body !== "object" || Array.isArray(body)) throw new HttpError(400, "body: expected a JSON object {scenario, population, days, seed}");
      const b = body as Record<string, unknown>;
      const job = jobs.start({
        scenario: typeof b.scenario === "string" ? b.scenario : String(b.scenario ?? ""),
        population: intValue(b.population, "population", 1, maxPopulation),
        days: intValue(b.days, "days", 1, 36_500),
        seed: intValue(b.seed ?? 1, "seed", 0, 4_294_967_295),
      });
      return sendJson(res, 202, job);
    }
    if (method === "POST" && parts[0] === "jobs" && parts.length === 3 && parts[2] === "cancel") return sendJson(res, 200, await jobs.cancel(parts[1]));
    if (method !== "GET" && method !== "HEAD") throw new HttpError(405, `${method} is not allowed on /api/${route}`, { Allow: "GET" });

    if (route === "runs") {
      // A complete run whose database Credence did not write is left out (the cache logs why, once).
      const runs = [];
      for (const r of listRuns(runsRoot, jobs.list())) {
        if (r.status !== "complete" || (await cache.problem(join(runsRoot, r.id))) === null) runs.push(r);
      }
      return sendJson(res, 200, { runs, jobs: jobs.list() });
    }
    if (route === "scenarios") return sendJson(res, 200, { scenarios: (scenarios ??= bundledScenarios(options.scenariosDir)) });
    if (parts[0] === "jobs" && parts.length === 3 && parts[2] === "events") return jobEvents(req, res, parts[1]);
    if (parts[0] === "jobs" && parts.length === 2) return sendJson(res, 200, jobs.get(parts[1]));

    if (parts[0] === "runs" && parts.length >= 3) {
      const dir = runFolder(runsRoot, parts[1]);
      const run = await cache.open(dir);
      const what = parts.slice(2).join("/");
      if (what === "overview") {
        const m = run.manifest;
        const daily = [...run.columns("daily")].filter((c) => c !== "day" && c !== "date");
        return sendJson(res, 200, {
          id: parts[1], name: m.name, title: m.scenario?.title ?? "", population: m.population, days: m.days, seed: m.seed,
          startDate: m.startDate, createdAt: m.createdAt, wallSeconds: m.wallSeconds, version: m.version, scenarioHash: m.scenarioHash,
          secrecy: m.scenario?.scoring?.secrecy ?? "secret", lists: run.lists(), summary: m.summary, metrics: daily,
          regionMetrics: [...run.columns("daily_region")].filter((c) => !["day", "date", "region"].includes(c)),
          trailSample: m.tables?.citizens ?? 0,
        });
      }
      if (what === "series") {
        const raw = params.get("metrics") ?? "";
        const metrics = raw.split(",").map((s) => s.trim()).filter(Boolean);
        if (metrics.length === 0 || metrics.length > 40) throw new HttpError(400, `parameter "metrics": expected 1 to 40 comma-separated metric names, got ${metrics.length}`);
        return sendJson(res, 200, { rows: await run.series(metrics) });
      }
      if (what === "distribution") {
        const by = enumParam(params, "by", ["group", "region"] as const, "group");
        const day = params.has("day") ? intParam(params, "day", 0, 36_500) : null;
        return sendJson(res, 200, await run.distribution(by, day));
      }
      if (what === "regions") {
        const metric = params.get("metric") || "on_black";
        if (metric.length > 80) throw new HttpError(400, `parameter "metric": too long`);
        return sendJson(res, 200, { metric, rows: await run.regions(metric) });
      }
      if (what === "targets") return sendJson(res, 200, { rows: await run.targets() });
      if (what === "citizens") {
        const filter = enumParam(params, "filter", ["wrongful", "association", "stuck", "misattributed", "any"] as const, "wrongful");
        const agent = params.has("agent") ? intParam(params, "agent", 0, 2_000_000_000) : null;
        const limit = intParam(params, "limit", 1, 200, 25);
        return sendJson(res, 200, { rows: await run.citizens(filter, agent, limit) });
      }
      if (parts[2] === "citizens" && parts.length === 4) {
        const agent = intValue(parts[3], "agent", 0, 2_000_000_000);
        return sendJson(res, 200, await run.citizen(agent, dir));
      }
    }
    throw new HttpError(404, `no such route: ${method} /api/${route.slice(0, 120)}`);
  }

  /** Server-sent events: the job's state now and on every change, until it ends. */
  function jobEvents(req: IncomingMessage, res: ServerResponse, id: string): void {
    const first = jobs.get(id);
    res.writeHead(200, { ...SECURITY_HEADERS, "Content-Type": "text/event-stream", "Cache-Control": "no-store", Connection: "keep-alive" });
    streams.add(res);
    const send = (state: typeof first) => {
      res.write(`event: progress\ndata: ${JSON.stringify(state)}\n\n`);
      if (state.status === "complete" || state.status === "failed" || state.status === "cancelled") end();
    };
    let unsubscribe = () => undefined as unknown;
    const end = () => {
      unsubscribe();
      streams.delete(res);
      res.end();
    };
    req.on("close", () => {
      unsubscribe();
      streams.delete(res);
    });
    unsubscribe = jobs.subscribe(id, send);
    send(first);
  }

  function serveStatic(req: IncomingMessage, res: ServerResponse, pathname: string): void {
    if (req.method !== "GET" && req.method !== "HEAD") throw new HttpError(405, `${req.method} is not allowed here`, { Allow: "GET" });
    let file = staticFile(staticRoot, pathname);
    // The app routes with the URL hash, so "/" is the only page; other paths are files or 404.
    if (!file) throw new HttpError(404, `no such file: ${pathname.slice(0, 120)}`);
    const immutable = file.includes(`${"/"}assets${"/"}`);
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      "Content-Type": contentType(file),
      "Cache-Control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
    });
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    createReadStream(file).on("error", () => res.destroy()).pipe(res);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    checkCaller(req);
    const rawUrl = req.url ?? "/";
    if (rawUrl.length > MAX_URL) throw new HttpError(414, `the address is longer than ${MAX_URL} characters`);
    if (!rawUrl.startsWith("/")) throw new HttpError(400, "the request target must be a path starting with /");
    const q = rawUrl.indexOf("?");
    const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const params = new URLSearchParams(q < 0 ? "" : rawUrl.slice(q + 1));
    let parts: string[];
    try {
      parts = rawPath.split("/").filter((p) => p !== "").map((p) => decodeURIComponent(p));
    } catch {
      throw new HttpError(400, "the path is not valid percent-encoding");
    }
    if (parts[0] === "api") return api(req, res, parts.slice(1), params);
    // Decoded parts that hold a separator or ".." try to leave the bundle: staticFile refuses them.
    return serveStatic(req, res, "/" + parts.join("/"));
  }

  const server = createServer((req, res) => {
    const admitted = limiter.admit(req.socket.remoteAddress ?? "?");
    if ("retryAfter" in admitted) {
      req.resume();
      return sendError(res, new HttpError(429, `too many requests; try again in ${admitted.retryAfter} s`, { "Retry-After": String(admitted.retryAfter) }));
    }
    // An event stream holds its connection open: it counts against the rate, not the concurrency.
    // Only the path says what is asked for; the query is the client's to fill.
    const isStream = /^\/api\/jobs\/[^/]+\/events$/.test((req.url ?? "").split("?", 1)[0]);
    if (isStream) admitted.release();
    res.on("close", admitted.release);
    handle(req, res).catch((e: unknown) => {
      if (e instanceof HttpError) {
        if (e.status === 413) res.setHeader("Connection", "close");
        sendError(res, e);
        if (e.status === 413) req.destroy();
        return;
      }
      process.stderr.write(`credence serve: ${(e as Error)?.stack ?? String(e)}\n`);
      sendError(res, new HttpError(500, `internal error: ${(e as Error)?.message ?? String(e)}`));
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.maxHeadersCount = 100;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8080, options.host ?? "127.0.0.1", () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  // The address listened on is a name for this server too, unless it is every address.
  const listenedOn = addr.address === "0.0.0.0" || addr.address === "::" ? [] : [host];
  hosts = allowedHosts([...new Set([...LOOPBACK_NAMES, ...listenedOn, ...(options.allowHosts ?? []).map(hostName)])], addr.port);
  return {
    server,
    url: `http://${host}:${addr.port}/`,
    close: async () => {
      for (const s of streams) s.end();
      await jobs.stopAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      cache.closeAll();
    },
  };
}
