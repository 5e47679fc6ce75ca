// `credence serve`: the dashboard over a folder of runs, on 127.0.0.1 unless told otherwise,
// answering only requests addressed to a loopback name or one given with --allow-host.
import { type Command, InvalidArgumentError, Option } from "commander";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { CliError, displayPath, intArg, packageRoot } from "./common.js";
import { hostName } from "../server/hosts.js";

interface ServeOpts {
  port: number;
  runs: string;
  host: string;
  allowHost: string[];
}

export function registerServe(cmd: Command, version: string): void {
  cmd
    .command("serve")
    .description("open the dashboard: runs, charts, a citizen's trail, two runs compared (in the browser)")
    .addOption(new Option("--port <n>", "port (0: any free port)").argParser(intArg(0, 65_535)).default(8080))
    .option("--runs <dir>", "folder of run folders to show, and where runs started from the page go", "runs")
    .option("--host <host>", "address to listen on (anything but loopback exposes your runs to the network)", "127.0.0.1")
    .addOption(
      new Option("--allow-host <name>", "a name the dashboard may be reached by besides 127.0.0.1, localhost and [::1] (repeatable)")
        .argParser((value: string, previous: string[]) => {
          try {
            return [...previous, hostName(value)];
          } catch (e) {
            throw new InvalidArgumentError((e as Error).message);
          }
        })
        .default([], "none"),
    )
    .action(async (opts: ServeOpts) => {
      const root = packageRoot() ?? process.cwd();
      const staticDir = join(root, "dist", "web");
      if (!existsSync(join(staticDir, "index.html"))) {
        throw new CliError(`the dashboard is not built (${displayPath(staticDir)} has no index.html); run: npm run build:web`);
      }
      const { startServer } = await import("../server/server.js");
      const runsDir = resolve(opts.runs);
      let server;
      try {
        server = await startServer({ runsDir, staticDir, scenariosDir: join(root, "scenarios"), version, host: opts.host, port: opts.port, allowHosts: opts.allowHost });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EADDRINUSE") throw new CliError(`port ${opts.port} is in use; choose another with --port (or --port 0 for any free one)`);
        throw e;
      }
      process.stdout.write(`Credence dashboard: ${server.url}  (runs in ${displayPath(runsDir)}; Ctrl-C to stop)\n`);
      if (!["127.0.0.1", "::1", "localhost"].includes(opts.host)) {
        process.stderr.write(`credence: listening on ${opts.host}: anyone who can reach this address can see these runs and start new ones\n`);
      }
      const stop = () => {
        void server.close().then(() => process.exit(0));
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      await new Promise<never>(() => undefined);
    });
}
