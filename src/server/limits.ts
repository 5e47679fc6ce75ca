// Flood control per client address: a token bucket bounds the request rate, and a cap on
// requests in flight bounds the work one client can queue on the DuckDB connections. A client
// over either limit gets 429 with Retry-After instead of slowing everyone down.

export interface LimitOptions {
  /** Sustained requests per second per client. */
  ratePerSecond: number;
  /** Requests a client may make at once above the sustained rate. */
  burst: number;
  /** Requests of one client being answered at the same time. */
  concurrent: number;
}

export const DEFAULT_LIMITS: LimitOptions = { ratePerSecond: 50, burst: 200, concurrent: 16 };

interface Client {
  tokens: number;
  updated: number;
  inFlight: number;
}

export class ClientLimiter {
  private clients = new Map<string, Client>();
  constructor(private options: LimitOptions = DEFAULT_LIMITS) {}

  /**
   * Admits a request from `address`, or returns the seconds to wait before trying again.
   * An admitted request must call the returned release() when it is answered.
   */
  admit(address: string, now = Date.now()): { release: () => void } | { retryAfter: number } {
    const { ratePerSecond, burst, concurrent } = this.options;
    let c = this.clients.get(address);
    if (!c) {
      c = { tokens: burst, updated: now, inFlight: 0 };
      this.clients.set(address, c);
      if (this.clients.size > 10_000) this.forgetIdle(now);
    }
    c.tokens = Math.min(burst, c.tokens + ((now - c.updated) / 1000) * ratePerSecond);
    c.updated = now;
    if (c.tokens < 1) return { retryAfter: Math.max(1, Math.ceil((1 - c.tokens) / ratePerSecond)) };
    if (c.inFlight >= concurrent) return { retryAfter: 1 };
    c.tokens -= 1;
    c.inFlight++;
    const client = c;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        client.inFlight--;
      },
    };
  }

  /** Drops clients with nothing in flight and a full bucket (keeps the map small). */
  private forgetIdle(now: number): void {
    for (const [k, c] of this.clients) {
      const full = c.tokens + ((now - c.updated) / 1000) * this.options.ratePerSecond >= this.options.burst;
      if (c.inFlight === 0 && full) this.clients.delete(k);
    }
  }
}
