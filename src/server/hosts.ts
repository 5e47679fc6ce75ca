// The names a request may address the dashboard by (its Host header): loopback names, which
// no DNS answer can point elsewhere, and those the user allows. Kept apart from the server so
// that the CLI can check --allow-host without loading it.

/** Names of this machine that no DNS answer can point elsewhere. */
export const LOOPBACK_NAMES = ["127.0.0.1", "localhost", "[::1]"];

/** A host name or IP address as it appears in a Host header (IPv6 in brackets), lower case. */
export function hostName(name: string): string {
  const n = name.trim().toLowerCase();
  const bare = n.replace(/^\[(.*)\]$/, "$1");
  if (bare.includes(":")) {
    if (!/^[0-9a-f:.]+$/.test(bare)) throw new Error(`${JSON.stringify(name)} is not a host name or IP address`);
    return `[${bare}]`;
  }
  const labels = n.split(".");
  if (n.length > 253 || !labels.every((l) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(l))) throw new Error(`${JSON.stringify(name)} is not a host name or IP address`);
  return n;
}

/** The Host header values (name:port, and the bare name on port 80) that address this server. */
export function allowedHosts(names: string[], port: number): Set<string> {
  return new Set(names.flatMap((n) => (port === 80 ? [`${n}:${port}`, n] : [`${n}:${port}`])));
}
