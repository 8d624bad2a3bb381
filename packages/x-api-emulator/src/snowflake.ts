/** Twitter snowflake ids: 41 bits of milliseconds since the Twitter epoch, 10 bits of worker, 12 bits of sequence. */

export const TWITTER_EPOCH_MS = 1288834974657n;
const WORKER_ID = 1n;

export function snowflakeFromTime(ms: number, sequence = 0n): bigint {
  return ((BigInt(Math.floor(ms)) - TWITTER_EPOCH_MS) << 22n) | (WORKER_ID << 12n) | (sequence & 0xfffn);
}

export function snowflakeTime(id: bigint): number {
  return Number((id >> 22n) + TWITTER_EPOCH_MS);
}

/** Hands out strictly increasing snowflakes, even if the clock stands still or goes backwards. */
export class SnowflakeGenerator {
  constructor(private last: bigint) {}

  next(ms: number): bigint {
    const candidate = snowflakeFromTime(ms);
    this.last = candidate > this.last ? candidate : this.last + 1n;
    return this.last;
  }
}
