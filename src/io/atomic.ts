// Writing a file so that no reader ever sees half of it: the bytes go to a temporary sibling
// (same folder, so the rename stays on one file system), are flushed to disk, and the file is
// renamed into place. A crash leaves either the old file or the new one, plus at worst a
// `<name>.tmp-<pid>-<random>` to delete.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

/** A temporary name beside `file`. */
export const tempSibling = (file: string): string => `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = tempSibling(file);
  try {
    const fd = fs.openSync(tmp, "w");
    try {
      fs.writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
