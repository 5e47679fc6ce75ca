// A map from citizen ids to numbers, for the sets of the listed that change every day (who is
// on a list, where in its rows, with what income counted). At 100 M citizens those sets hold
// millions, and a JavaScript Map of that size costs two or three cache misses an operation (its
// hash buckets, then the entry chained from them): measured 150 ns a lookup and 380 ns an insert
// at 3 M entries. Here a key and its value sit side by side in one array, found by linear
// probing from a multiplicative hash: one miss, usually.

const EMPTY = -1;

export class IdMap {
  /** Pairs [key, value], a key of -1 marking an empty slot; capacity a power of two, at most half full. */
  private slots = new Float64Array(2 * 16).fill(EMPTY);
  private mask = 15;
  private shift = 28; // 32 - log2(capacity): the hash's top bits pick the slot
  size = 0;

  /** Each item of a list to its position in it. */
  static positions(items: number[]): IdMap {
    const map = new IdMap();
    items.forEach((i, p) => map.set(i, p));
    return map;
  }

  /** The slot a key's search starts from. */
  private home(key: number): number {
    return Math.imul(key, 0x9e3779b1) >>> this.shift;
  }

  /** Where key is, or the empty slot where it would go. */
  private find(key: number): number {
    const { slots, mask } = this;
    let h = this.home(key);
    while (slots[2 * h] !== key && slots[2 * h] !== EMPTY) h = (h + 1) & mask;
    return h;
  }

  has(key: number): boolean {
    return this.slots[2 * this.find(key)] === key;
  }

  /** The value of key, or `absent`. */
  get(key: number, absent = -1): number {
    const h = this.find(key);
    return this.slots[2 * h] === key ? this.slots[2 * h + 1] : absent;
  }

  /** key (a non-negative 32-bit integer) to value. */
  set(key: number, value: number): void {
    let h = this.find(key);
    if (this.slots[2 * h] !== key) {
      if (2 * (this.size + 1) > this.mask + 1) {
        this.grow();
        h = this.find(key);
      }
      this.slots[2 * h] = key;
      this.size++;
    }
    this.slots[2 * h + 1] = value;
  }

  /** Remove key; false if it was not there. */
  delete(key: number): boolean {
    const { slots, mask } = this;
    let h = this.find(key);
    if (slots[2 * h] !== key) return false;
    this.size--;
    // Backward shift: move up every later key of the run whose home is not between the hole and
    // it, so that no search meets an empty slot before its key (no tombstones to skip).
    for (let next = (h + 1) & mask; slots[2 * next] !== EMPTY; next = (next + 1) & mask) {
      const home = this.home(slots[2 * next]);
      if (((next - home) & mask) >= ((next - h) & mask)) {
        slots[2 * h] = slots[2 * next];
        slots[2 * h + 1] = slots[2 * next + 1];
        h = next;
      }
    }
    slots[2 * h] = EMPTY;
    return true;
  }

  /** The keys, in slot order (for saving a set; nothing may depend on this order). */
  keys(): number[] {
    const out: number[] = [];
    for (let h = 0; h <= this.mask; h++) if (this.slots[2 * h] !== EMPTY) out.push(this.slots[2 * h]);
    return out;
  }

  clear(): void {
    this.slots.fill(EMPTY);
    this.size = 0;
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Float64Array(2 * old.length).fill(EMPTY);
    this.mask = old.length - 1;
    this.shift--;
    for (let k = 0; k < old.length; k += 2) {
      if (old[k] === EMPTY) continue;
      const h = this.find(old[k]);
      this.slots[2 * h] = old[k];
      this.slots[2 * h + 1] = old[k + 1];
    }
  }
}
