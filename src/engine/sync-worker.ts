// A worker thread spoken to synchronously: the caller posts messages, goes on with its own work,
// then blocks (Atomics.wait) until the worker has answered, and takes the answer with
// receiveMessageOnPort. That keeps simulate() and createWorld() synchronous functions while
// both cores work. Messages are answered one at a time, in order. The shard workers (the day's
// kernels) and the build worker (the population and its ties) are both spoken to this way.
import { MessageChannel, Worker, receiveMessageOnPort, workerData, type MessagePort } from "node:worker_threads";

/** `message` with every typed array passed through `f` (the rest copied as it is). */
export function mapViews<T>(message: T, f: (view: ArrayBufferView) => ArrayBufferView): T {
  const map = (v: unknown): unknown => {
    if (ArrayBuffer.isView(v)) return f(v);
    if (Array.isArray(v)) return v.map(map);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, map(x)]));
    return v;
  };
  return map(message) as T;
}

/**
 * A message with every typed array that views part of a larger buffer copied down to that
 * part. postMessage clones a view's whole buffer, and the day's buffers are grown ones reused
 * from day to day: an observation or charge batch would otherwise carry its capacity. Arrays
 * on shared memory stay as they are (they are shared, not copied).
 */
export function trimmed<T>(message: T): T {
  return mapViews(message, (v) => (v.buffer instanceof SharedArrayBuffer || v.byteLength === v.buffer.byteLength ? v : (v as Int8Array).slice()));
}

/** Something to Atomics.wait on for a millisecond (nobody ever notifies it). */
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * The next message on a port, read synchronously. The counter that announces a message is
 * raised after postMessage returns, but a port still being handed to a new worker may deliver
 * it a moment later: wait for it rather than take its absence for an answer.
 */
function nextMessage(port: MessagePort): unknown {
  for (let tries = 0; ; tries++) {
    const received = receiveMessageOnPort(port);
    if (received) return received.message;
    if (tries > 60_000) throw new Error("a message announced between threads never arrived");
    Atomics.wait(pause, 0, 0, 1);
  }
}

/** How long the caller waits for a worker's answer before deciding it has died. */
const ANSWER_TIMEOUT_MS = 10 * 60_000;

/** The two ends share a port and three counters: [messages sent, answers sent, worker exited]. */
export interface Link {
  control: Int32Array;
  port: MessagePort;
}

/** The calling thread's end. */
export class SyncWorker<Message, Answer> {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly control = new Int32Array(new SharedArrayBuffer(12));
  private sent = 0;
  private received = 0;
  /** Why the thread ended, if an error escaped it (see receive). */
  private failure = "";

  /** `script`: the worker's module, beside this one; `data` reaches it as workerData, with the link. */
  constructor(script: string, data: object, transfer: ArrayBuffer[] = []) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    // The worker's code is a one-line script that imports its module. A worker inherits the
    // caller's options, and under --input-type (a script given by -e or on stdin) Node refuses
    // to load a worker from a file, but not from a script. The options are not given
    // explicitly, because then Node rejects those that only a process may take (such as
    // --max-old-space-size, which large runs need) rather than leave them out.
    this.worker = new Worker(`import(${JSON.stringify(new URL(`./${script}`, import.meta.url).href)});`, {
      eval: true,
      workerData: { ...data, control: this.control, port: port2 },
      transferList: [port2, ...transfer],
    });
    this.worker.unref();
    this.worker.on("error", (e) => (this.failure = e.message));
  }

  post(message: Message): void {
    this.port.postMessage(trimmed(message));
    this.sent++;
    Atomics.store(this.control, 0, this.sent);
    Atomics.notify(this.control, 0);
  }

  /** The answer to the oldest message not yet answered; `who` names the worker in errors. */
  receive(who: string): Answer {
    const deadline = Date.now() + ANSWER_TIMEOUT_MS;
    const want = ++this.received;
    while (Atomics.load(this.control, 1) < want) {
      // The worker's last answer is counted before it marks its exit: read the count again.
      if (Atomics.load(this.control, 2) && Atomics.load(this.control, 1) < want) throw new Error(`${who}'s worker stopped without answering${this.failure && `: ${this.failure}`}`);
      if (Date.now() > deadline) throw new Error(`${who}'s worker did not answer within ${ANSWER_TIMEOUT_MS / 1000} s`);
      Atomics.wait(this.control, 1, want - 1, 1000);
    }
    const answer = nextMessage(this.port) as Answer | { error: string };
    if (answer && typeof answer === "object" && "error" in answer) throw new Error(`${who}: ${answer.error}`);
    return answer as Answer;
  }

  /** Post the message that tells the worker to stop (it is not answered). */
  close(last: Message): void {
    this.post(last);
    this.port.close();
  }
}

/**
 * The worker's end, taken first thing: from then on a worker that dies marks its exit, which the
 * caller polls while it waits, so it never waits for an answer that cannot come.
 */
export function workerLink(): Link {
  const link = workerData as Link;
  process.on("exit", () => {
    Atomics.store(link.control, 2, 1);
    Atomics.notify(link.control, 1);
  });
  return link;
}

/** Hand the caller an answer: the message, then the counter it waits on. */
export function answer(link: Link, message: unknown): void {
  link.port.postMessage(trimmed(message));
  Atomics.add(link.control, 1, 1);
  Atomics.notify(link.control, 1);
}

/**
 * Answer each message with `handle` (an error thrown becomes an error answer) until `isLast`
 * says one is the last. The worker blocks on Atomics.wait rather than an event loop, because
 * the caller, blocked in turn, only reads answers synchronously.
 */
export function serve<Message>(link: Link, isLast: (message: Message) => boolean, handle: (message: Message) => unknown): void {
  for (let seen = 0; ; ) {
    Atomics.wait(link.control, 0, seen);
    seen++;
    const message = nextMessage(link.port) as Message;
    if (isLast(message)) break;
    let reply: unknown;
    try {
      reply = handle(message);
    } catch (e) {
      reply = { error: e instanceof Error ? e.stack ?? e.message : String(e) };
    }
    answer(link, reply);
  }
  link.port.close();
}
