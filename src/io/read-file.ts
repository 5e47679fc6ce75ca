// Reading a file Credence is given (a scenario, an `extends:` target, an experiment): only a
// regular file, and never more than a bound. The checks are made on the opened descriptor, not
// on the path before opening it, so nothing can be swapped in between:
//   - O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer;
//   - fstat of the descriptor: a FIFO, a device (/dev/zero), a socket or a folder is refused;
//   - at most maxBytes + 1 bytes are read, and more than maxBytes is refused: the bound holds
//     for files whose size stat cannot tell (/proc files say 0) or that grow while read;
//   - O_NOFOLLOW (optional): a symbolic link as the last component is refused, for paths
//     written inside a file rather than named by the user.
import fs from "node:fs";

/** Why a file was not read: `message` is the reason alone (callers name the file their own way). */
export class FileRefused extends Error {
  constructor(readonly file: string, reason: string) {
    super(reason);
    this.name = "FileRefused";
  }
}

export interface ReadOptions {
  /** Refuse a file holding more bytes than this. */
  maxBytes: number;
  /** Open a symbolic link's target (default true); false refuses a link. */
  followSymlinks?: boolean;
}

const { O_RDONLY, O_NONBLOCK = 0, O_NOFOLLOW = 0 } = fs.constants;
/** Read in pieces, so that a small file under a large bound costs a small buffer. */
const CHUNK_BYTES = 64 * 1024;

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return "a folder";
  if (st.isFIFO()) return "a FIFO";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a file";
}

function openRefusal(file: string, e: NodeJS.ErrnoException, followSymlinks: boolean): FileRefused {
  // With O_NOFOLLOW, Linux and macOS say ELOOP and FreeBSD EMLINK for a link.
  if (!followSymlinks && (e.code === "ELOOP" || e.code === "EMLINK")) {
    return new FileRefused(file, "a symbolic link (not followed here: name the file it points to)");
  }
  return new FileRefused(file, `no readable file (${e.code ?? e.message})`);
}

/** The bytes of a regular file of at most `maxBytes`; throws FileRefused otherwise. */
export function readUserFile(file: string, { maxBytes, followSymlinks = true }: ReadOptions): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(file, O_RDONLY | O_NONBLOCK | (followSymlinks ? 0 : O_NOFOLLOW));
  } catch (e) {
    throw openRefusal(file, e as NodeJS.ErrnoException, followSymlinks);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new FileRefused(file, `${kindOf(st)}, not a regular file`);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, maxBytes + 1 - total));
      const got = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (got === 0) return Buffer.concat(chunks, total);
      chunks.push(chunk.subarray(0, got));
      total += got;
      if (total > maxBytes) throw new FileRefused(file, `a file of more than ${maxBytes.toLocaleString("en-US")} bytes`);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** readUserFile as UTF-8 text. */
export const readUserText = (file: string, options: ReadOptions): string => readUserFile(file, options).toString("utf8");
