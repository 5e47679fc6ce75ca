// The keys checkpoints are signed with (HMAC-SHA256, engine/checkpoint.ts). A run's key is
// derived from a secret of the user's, kept outside every run folder, and the run's id (in its
// manifest): HMAC(secret, run id). Someone who can edit a run folder, or hands one over, cannot
// sign a checkpoint that this account's Credence will accept; someone with this account can.
//
// The secret: $XDG_CONFIG_HOME/credence/checkpoint-secret (~/.config/credence/ without
// XDG_CONFIG_HOME), 32 random bytes in hex, created on first use with mode 0600 in a folder
// of mode 0700. A secret that others can read, or that is not a regular file of this user's,
// is refused: a key that others can read signs nothing.
import { createHmac, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const SECRET_FILE = "checkpoint-secret";
const RUN_ID = /^[0-9a-f]{32}$/;

/** A problem with the checkpoint secret (named by path; its contents are never shown). */
export class CheckpointKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckpointKeyError";
  }
}

/** Where Credence keeps its per-user configuration. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), ".config"), "credence");
}

export const secretPath = (env: NodeJS.ProcessEnv = process.env): string => path.join(configDir(env), SECRET_FILE);

/** A new run id (for a checkpointed run's manifest). */
export const newRunId = (): string => randomBytes(16).toString("hex");

export const isRunId = (v: unknown): v is string => typeof v === "string" && RUN_ID.test(v);

/** Reads the secret at `file`, refusing one that is not a private regular file of this user's. */
function readSecret(file: string): Buffer {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new CheckpointKeyError(`${file} is not a regular file`);
    if (typeof process.getuid === "function" && st.uid !== process.getuid()) throw new CheckpointKeyError(`${file} belongs to another user`);
    if (st.mode & 0o077) throw new CheckpointKeyError(`${file} can be read or written by other users (mode ${(st.mode & 0o777).toString(8)}); make it private (chmod 600) or remove it, which makes this account's checkpoints unusable`);
    const buf = Buffer.alloc(65);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const text = buf.subarray(0, n).toString("latin1");
    if (!/^[0-9a-f]{64}$/.test(text)) throw new CheckpointKeyError(`${file} is not a checkpoint secret (64 hex digits); remove it to make a new one, which makes this account's checkpoints unusable`);
    return Buffer.from(text, "hex");
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The user's checkpoint secret, made on first use. Made whole or not at all: written to a
 * private temporary file, then linked into place, which fails if another process got there
 * first (its secret is then read).
 */
function userSecret(env: NodeJS.ProcessEnv): Buffer {
  const file = secretPath(env);
  try {
    return readSecret(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${SECRET_FILE}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    fs.writeFileSync(tmp, randomBytes(32).toString("hex"), { mode: 0o600, flag: "wx" });
    fs.linkSync(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return readSecret(file);
}

/** The checkpoint key of the run `runId` for this user (the secret is made if there is none yet). */
export function runCheckpointKey(runId: string, env: NodeJS.ProcessEnv = process.env): Uint8Array {
  if (!isRunId(runId)) throw new CheckpointKeyError("the run id is not 32 hex digits");
  let secret: Buffer;
  try {
    secret = userSecret(env);
  } catch (e) {
    if (e instanceof CheckpointKeyError) throw e;
    throw new CheckpointKeyError(`cannot read or make the checkpoint secret ${secretPath(env)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return new Uint8Array(createHmac("sha256", secret).update(`credence checkpoint key\0${runId}`).digest());
}
