import { rm } from 'node:fs/promises';

import { type Logger, writeFileAtomically } from '@twitter-relaynet/core';

/**
 * A file a daemon keeps for others to read (a status beside its socket): each `publish` replaces it atomically
 * (0644), or removes it for `null`; writes are chained, each writing the latest content unless the file holds it
 * already. A failed write is logged, and tried again by the next `publish`.
 */
export class StatusFile {
  private latest: string | null = null;
  /** What the file holds (undefined: unknown). */
  private written: string | null | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly logger: Logger,
    /** For the log: "Could not publish the <what>". */
    private readonly what: string,
    /** What the file holds now, if known (e.g. just read). */
    current?: string | null,
  ) {
    this.written = current;
  }

  /** Resolves once the file holds `content` (or the write failed and was logged). */
  publish(content: string | null): Promise<void> {
    this.latest = content;
    this.writing = this.writing.then(async () => {
      const latest = this.latest;
      if (latest === this.written) return;
      try {
        if (latest === null) await rm(this.path, { force: true });
        else await writeFileAtomically(this.path, latest, 0o644);
        this.written = latest;
      } catch (error) {
        this.logger.error({ file: this.path, err: String(error) }, `Could not publish the ${this.what}`);
      }
    });
    return this.writing;
  }
}
