/**
 * Readiness of one relaying gateway instance, three ways for supervisors and load balancers: the file
 * `<data dir>/health.json`, an HTTP endpoint (`--health-address HOST:PORT`, `GET /healthz`: 200 ready, 503 not) and
 * the command `relayer-gateway health` (exit status 0 ready, 1 not, the reason on stdout).
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { errorMessage, type Logger, writeFileAtomically } from '@twitter-relaynet/core';

export interface HealthReport {
  readonly ready: boolean;
  /** Why it is not ready (null when ready). */
  readonly reason: string | null;
  /** Since when this has been the state (ISO 8601). */
  readonly since: string;
  readonly pid: number;
}

/** The instance's readiness: published in `file` (atomically) at every change, and served over HTTP if asked. */
export class Health {
  private report: HealthReport;
  private server: Server | null = null;
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly file: string,
    private readonly logger: Logger,
  ) {
    this.report = { ready: false, reason: 'starting', since: new Date().toISOString(), pid: process.pid };
  }

  get current(): HealthReport {
    return this.report;
  }

  /**
   * Ready (`notReadyReason` null) or not, and why; written to the file. Writes run one after the other, each of
   * the state at its turn, so that the file ends with the latest state even when changes come faster than writes.
   */
  set(notReadyReason: string | null): Promise<void> {
    this.report = {
      ready: notReadyReason === null,
      reason: notReadyReason,
      since: new Date().toISOString(),
      pid: process.pid,
    };
    this.writes = this.writes.then(async () => {
      try {
        await writeFileAtomically(this.file, JSON.stringify(this.report) + '\n', 0o644);
      } catch (error) {
        this.logger.warn({ err: errorMessage(error) }, 'Could not write health.json');
      }
    });
    return this.writes;
  }

  /** Answer `GET /healthz` on `address` (host:port; port 0 = any free one): 200 when ready, else 503; JSON. */
  async serve(address: string): Promise<string> {
    const at = address.lastIndexOf(':');
    const host = address.slice(0, at).replace(/^\[|\]$/g, '');
    const server = createServer((request, response) => {
      const path = (request.url ?? '').split('?')[0];
      if (path !== '/healthz' || (request.method !== 'GET' && request.method !== 'HEAD')) {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: GET /healthz\n');
        return;
      }
      response
        .writeHead(this.report.ready ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        .end(request.method === 'HEAD' ? undefined : JSON.stringify(this.report) + '\n');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(Number(address.slice(at + 1)), host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const { port } = server.address() as AddressInfo;
    return `${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  async close(): Promise<void> {
    const { server } = this;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * What `relayer-gateway health` says about the instance whose data directory (and health endpoint, if any) is
 * given: from the endpoint when there is one, else from health.json and whether its process is alive.
 */
export async function checkHealth(options: {
  readonly file: string;
  readonly address: string | null;
}): Promise<{ readonly ready: boolean; readonly why: string }> {
  if (options.address) {
    try {
      const response = await fetch(`http://${options.address}/healthz`, { signal: AbortSignal.timeout(5_000) });
      const report = (await response.json()) as HealthReport;
      return describe(report, response.status === 200);
    } catch (error) {
      return { ready: false, why: `no answer from http://${options.address}/healthz (${(error as Error).message})` };
    }
  }
  let report: HealthReport;
  try {
    report = JSON.parse(await readFile(options.file, 'utf8')) as HealthReport;
  } catch (error) {
    return { ready: false, why: `cannot read ${options.file} (never started here?): ${(error as Error).message}` };
  }
  if (!isAlive(report.pid)) return { ready: false, why: `not running (process ${report.pid} is gone)` };
  return describe(report, report.ready);
}

function describe(report: HealthReport, ready: boolean): { ready: boolean; why: string } {
  return ready
    ? { ready, why: `ready since ${report.since} (process ${report.pid})` }
    : { ready, why: `not ready since ${report.since}: ${report.reason ?? 'unknown'} (process ${report.pid})` };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
