// The run folder of a checkpointed run while it is being simulated: manifest.json says
// "incomplete" (with the day of the last checkpoint, how to resume, and the run's id) from the
// start, and checkpoint.bin holds the last checkpoint, signed with the run's key (see
// io/checkpoint-key.ts). A kill at any moment leaves either the previous checkpoint or the new
// one, never half of one (both files are written with the atomic writer). When the run
// finishes, writeRunFolder swaps the complete run in its place.
import fs from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "./atomic.js";
import { DATABASE_FILE, MANIFEST_FILE, type Manifest, type RunIdentity } from "./run-folder.js";
import { SYNTHETIC_STATEMENT } from "./synthetic.js";

export const CHECKPOINT_FILE = "checkpoint.bin";

/** The manifest of a run still going; its scenario (as resolved) is what `credence resume` runs. */
export interface InProgressManifest extends RunIdentity {
  status: "incomplete";
  reason: string;
  checkpoint: {
    file: string;
    everyDays: number;
    /** Days simulated when the last checkpoint was taken (null: none yet). */
    day: number | null;
    /** The run's id: with the user's secret, it gives the key its checkpoints are signed with (io/checkpoint-key.ts). */
    runId: string;
  };
}

// A run in progress says what every run folder says: its people are synthetic.
const writeManifest = (dir: string, m: InProgressManifest) =>
  writeFileAtomic(path.join(dir, MANIFEST_FILE), JSON.stringify({ synthetic: true, note: SYNTHETIC_STATEMENT, ...m }, null, 2) + "\n");

/**
 * Makes `dir` the folder of a checkpointed run that is starting: first the manifest (so that
 * the folder never says "complete" again), then what a previous run left there is removed.
 */
export function startCheckpointFolder(dir: string, manifest: InProgressManifest): void {
  fs.mkdirSync(dir, { recursive: true });
  writeManifest(dir, manifest);
  for (const f of [DATABASE_FILE, `${DATABASE_FILE}.wal`, CHECKPOINT_FILE]) fs.rmSync(path.join(dir, f), { force: true });
}

/** Saves a checkpoint, then the manifest that names its day. */
export function saveCheckpointFile(dir: string, bytes: Uint8Array, manifest: InProgressManifest): void {
  writeFileAtomic(path.join(dir, manifest.checkpoint.file), bytes);
  writeManifest(dir, manifest);
}

/**
 * The checkpoint file `file` of the run folder `dir`, or null when there is none. Only a regular
 * file is read (checked on the open file: a FIFO, a device or a symlink put in its place is
 * refused, not read), and only as many bytes as it had when opened.
 */
export function readCheckpointFile(dir: string, file: string): Uint8Array | null {
  let fd: number;
  try {
    fd = fs.openSync(path.join(dir, file), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    throw new Error(code === "ELOOP" ? `${file} is a symbolic link; a checkpoint is a regular file` : `cannot open ${file} (${code ?? (e as Error).message})`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new Error(`${file} is not a regular file`);
    const bytes = Buffer.alloc(st.size);
    let at = 0;
    for (let n; at < bytes.length && (n = fs.readSync(fd, bytes, at, bytes.length - at, at)) > 0;) at += n;
    return bytes.subarray(0, at);
  } finally {
    fs.closeSync(fd);
  }
}

/** The in-progress manifest of a checkpointed run, or null when `m` is not one (its runId is checked by the resume). */
export function asInProgress(m: Manifest | InProgressManifest): InProgressManifest | null {
  const x = m as Partial<InProgressManifest>;
  const cp = x.checkpoint;
  const ok = x.status === "incomplete" && typeof x.scenario === "object" && x.scenario !== null && Number.isInteger(x.seed) &&
    typeof cp === "object" && cp !== null && Number.isInteger(cp.everyDays) && cp.everyDays >= 1 &&
    typeof cp.file === "string" && path.basename(cp.file) === cp.file;
  return ok ? (x as InProgressManifest) : null;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
};

/**
 * Removes what writers killed mid-write left behind, and only theirs (a process with that id
 * is gone): temporary files in the folder (`<file>.tmp-<pid>-*`, see io/atomic.ts) and
 * half-written final folders beside it (`<folder>.partial-<pid>-*`, see io/run-folder.ts).
 */
export function removeLeftovers(dir: string): void {
  const remove = (folder: string, pattern: RegExp) => {
    for (const f of fs.readdirSync(folder)) {
      const m = pattern.exec(f);
      if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) fs.rmSync(path.join(folder, f), { recursive: true, force: true });
    }
  };
  remove(dir, /\.tmp-(\d+)-[0-9a-f]+$/);
  const name = path.basename(dir).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  remove(path.dirname(dir), new RegExp(`^${name}\\.partial-(\\d+)-[0-9a-f]+$`));
}
