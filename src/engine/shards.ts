// Shards: the population split into contiguous runs of whole blocks, one per thread. A block
// (BLOCK citizens) is the unit of every per-citizen random stream, so a citizen's draws do not
// depend on which shard holds them: results are the same for any number of shards.

export const BLOCK_SHIFT = 12;
export const BLOCK = 1 << BLOCK_SHIFT;

export interface Shard {
  index: number;
  /** Citizens [lo, hi); lo is a multiple of BLOCK. */
  lo: number;
  hi: number;
}

/** Split n citizens into at most `count` shards of nearly equal numbers of blocks. */
export function partition(n: number, count: number): Shard[] {
  const blocks = Math.max(1, Math.ceil(n / BLOCK));
  const k = Math.max(1, Math.min(count, blocks));
  return Array.from({ length: k }, (_, index) => ({
    index,
    lo: Math.floor((index * blocks) / k) * BLOCK,
    hi: Math.min(n, Math.floor(((index + 1) * blocks) / k) * BLOCK),
  }));
}

/** Which shard holds each block: citizen i is held by owner[i >>> BLOCK_SHIFT]. */
export function shardOwners(shards: Shard[]): Uint16Array {
  const last = shards[shards.length - 1];
  const owner = new Uint16Array(Math.max(1, Math.ceil(last.hi / BLOCK)));
  for (const s of shards) owner.fill(s.index, s.lo / BLOCK, Math.ceil(s.hi / BLOCK));
  return owner;
}
