import type { CourierAnswerStore } from '@twitter-relaynet/gateway';
import type pg from 'pg';

/** Courier registration answers (table `courier_answers`, migration 2), shared by every instance. */
export class PostgresCourierAnswerStore implements CourierAnswerStore {
  constructor(private readonly pool: pg.Pool) {}

  async get(requestDigest: string): Promise<Buffer | null> {
    const { rows } = await this.pool.query<{ response: Buffer }>(
      'SELECT response FROM courier_answers WHERE request_digest = $1',
      [requestDigest],
    );
    return rows[0]?.response ?? null;
  }

  async keep(requestDigest: string, response: Buffer, expiryDate: Date): Promise<Buffer> {
    const inserted = await this.pool.query(
      `INSERT INTO courier_answers (request_digest, response, expiry) VALUES ($1, $2, $3)
       ON CONFLICT (request_digest) DO NOTHING`,
      [requestDigest, response, expiryDate],
    );
    if ((inserted.rowCount ?? 0) > 0) return response;
    // Another instance's insert came first (and was committed: ours waited for it); a new statement sees it.
    const kept = await this.get(requestDigest);
    if (!kept) throw new Error(`The answer to courier registration request ${requestDigest} vanished`);
    return kept;
  }

  async purgeExpired(now: Date): Promise<number> {
    return (await this.pool.query('DELETE FROM courier_answers WHERE expiry <= $1', [now])).rowCount ?? 0;
  }
}
