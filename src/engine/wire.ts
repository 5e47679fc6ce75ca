// Messages between processes over a socket: each a 4-byte length and the value in V8's
// structured-clone format (v8.serialize), which keeps typed arrays typed. The shard processes
// (shard-process.ts) and their relays (shard-relay.ts) speak it over loopback TCP; across
// machines the same frames would go over any byte stream.
import { serialize, deserialize } from "node:v8";
import type { Socket } from "node:net";

/** Write one value as a frame; returns its size on the wire. */
export function sendFrame(socket: Socket, value: unknown): number {
  const body = serialize(value);
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32LE(body.length, 0);
  // Corked, the two writes leave as one (two would wait on each other's acknowledgement), and
  // the body is not copied into a frame: the first frame carries a whole world.
  socket.cork();
  socket.write(head);
  socket.write(body);
  socket.uncork();
  return 4 + body.length;
}

/** Call `onFrame` with each value that arrives on the socket, in order, with its size on the wire. */
export function receiveFrames(socket: Socket, onFrame: (value: unknown, bytes: number) => void): void {
  const head = Buffer.alloc(4);
  let headFilled = 0;
  let body: Buffer | undefined; // the frame being received, allocated once its length is known
  let bodyFilled = 0;
  socket.on("data", (chunk: Buffer) => {
    let at = 0;
    while (at < chunk.length) {
      if (!body) {
        const n = Math.min(4 - headFilled, chunk.length - at);
        chunk.copy(head, headFilled, at, at + n);
        headFilled += n;
        at += n;
        if (headFilled < 4) return;
        // Filled as chunks come: a large frame (the first carries a whole world) is held once, not twice.
        body = Buffer.allocUnsafe(head.readUInt32LE(0));
        bodyFilled = 0;
      }
      const n = Math.min(body.length - bodyFilled, chunk.length - at);
      chunk.copy(body, bodyFilled, at, at + n);
      bodyFilled += n;
      at += n;
      if (bodyFilled === body.length) {
        const done = body;
        body = undefined;
        headFilled = 0;
        onFrame(deserialize(done), 4 + done.length);
      }
    }
  });
}
