// Messages between processes over a socket: each a 4-byte length and the value in V8's
// structured-clone format (v8.serialize), which keeps typed arrays typed. The shard processes
// (shard-process.ts) and their relays (shard-relay.ts) speak it over loopback TCP; across
// machines the same frames would go over any byte stream.
import { serialize, deserialize } from "node:v8";
import type { Socket } from "node:net";

/** Write one value as a frame; returns its size on the wire. */
export function sendFrame(socket: Socket, value: unknown): number {
  const body = serialize(value);
  const frame = Buffer.allocUnsafe(4 + body.length);
  frame.writeUInt32LE(body.length, 0);
  body.copy(frame, 4);
  socket.write(frame); // one write: two would wait on each other's acknowledgement (Nagle)
  return frame.length;
}

/** Call `onFrame` with each value that arrives on the socket, in order, with its size on the wire. */
export function receiveFrames(socket: Socket, onFrame: (value: unknown, bytes: number) => void): void {
  let pending: Buffer[] = [];
  let buffered = 0;
  socket.on("data", (chunk: Buffer) => {
    pending.push(chunk);
    buffered += chunk.length;
    for (;;) {
      if (buffered < 4) return;
      if (pending[0].length < 4) pending = [Buffer.concat(pending)];
      const size = pending[0].readUInt32LE(0);
      if (buffered < 4 + size) return; // a large frame comes in many chunks: join them once, when all are here
      const data = pending.length > 1 ? Buffer.concat(pending) : pending[0];
      const value = deserialize(data.subarray(4, 4 + size));
      const rest = data.subarray(4 + size);
      pending = rest.length ? [rest] : [];
      buffered = rest.length;
      onFrame(value, 4 + size);
    }
  });
}
