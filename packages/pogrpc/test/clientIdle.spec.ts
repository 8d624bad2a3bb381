import { performance } from 'node:perf_hooks';

import * as grpc from '@grpc/grpc-js';
import { startThrottlingProxy, type ThrottlingProxy } from '@twitter-relaynet/test-support';

import {
  createPogRPCServer,
  generateSelfSignedCertificate,
  PogRPCCallError,
  PogRPCClient,
  type PogRPCServer,
} from '../src';

/**
 * The client's idle rule at a small scale: a 2 s idle timeout stands for the default 20 s, and a call lasting
 * well over OLD_STYLE_DEADLINE_MS stands for a delivery longer than the 60 s the client used to allow per call.
 */
const IDLE_MS = 2_000;
const OLD_STYLE_DEADLINE_MS = 4_000;
const identity = generateSelfSignedCertificate();

describe('PogRPC client: progress, not a fixed deadline, keeps a call alive (TLS through a throttling proxy)', () => {
  let server: PogRPCServer | null = null;
  let proxy: ThrottlingProxy | null = null;
  let client: PogRPCClient | null = null;
  let stored: Buffer[];

  async function start(
    link: { bytesPerSecond: number; latencyMs: number },
    clientOptions: { deadlineMs?: number } = {},
    onParcel: (parcel: Buffer) => Promise<void> = async (parcel) => void stored.push(parcel),
  ) {
    stored = [];
    server = await createPogRPCServer({ address: '127.0.0.1:0', tls: identity, idleTimeoutMs: IDLE_MS, onParcel });
    proxy = await startThrottlingProxy({ target: { host: '127.0.0.1', port: server.port! }, ...link });
    client = new PogRPCClient(proxy.address, {
      tls: { pinnedCertificatePem: identity.certificatePem },
      idleTimeoutMs: IDLE_MS,
      ...clientOptions,
    });
    return { proxy, client };
  }

  afterEach(async () => {
    client?.close();
    await proxy?.close();
    await server?.close();
    client = proxy = server = null;
  });

  it('delivers 2 MiB at 256 KiB/s (8 s: four idle periods, twice the old-style deadline) exactly once, on one connection', async () => {
    const { proxy: link, client: sender } = await start({ bytesPerSecond: 256 * 1024, latencyMs: 50 });
    const parcels = [Buffer.alloc(1024 * 1024, 1), Buffer.alloc(1024 * 1024, 2)];
    const started = performance.now();

    const report = await sender.deliverParcels(parcels.map((parcel, index) => ({ id: `p${index}`, parcel })));

    const elapsedMs = performance.now() - started;
    expect(report.error).toBeUndefined();
    expect(report.acked).toEqual(['p0', 'p1']);
    expect(stored).toEqual(parcels);
    expect(link.accepted).toBe(1);
    // The link set the pace, so the call outlived a whole-call deadline of this scale without being cut.
    expect(elapsedMs).toBeGreaterThan(OLD_STYLE_DEADLINE_MS * 1.5);
  }, 60_000);

  it('a caller that asks for an overall deadline still gets it, though the call progresses', async () => {
    const { client: sender } = await start(
      { bytesPerSecond: 256 * 1024, latencyMs: 50 },
      { deadlineMs: OLD_STYLE_DEADLINE_MS },
    );

    const report = await sender.deliverParcels([{ id: 'big', parcel: Buffer.alloc(2 * 1024 * 1024, 3) }]);

    expect(report.error).toBeInstanceOf(PogRPCCallError);
    expect((report.error as PogRPCCallError).code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(report.acked).toEqual([]);
    expect(report.unacked.map((u) => u.id)).toEqual(['big']);
  }, 60_000);

  it('a link that stalls mid-parcel is detected by the client after about the idle period; the retry delivers once', async () => {
    const { proxy: link, client: sender } = await start({ bytesPerSecond: 1024 * 1024, latencyMs: 0 });
    const parcel = Buffer.alloc(2 * 1024 * 1024, 4);
    const delivery = sender.deliverParcels([{ id: 'stalled', parcel }]);
    await link.whenForwarded('up', 256 * 1024);
    link.stall();
    const stalledAt = performance.now();

    // Nothing can reach the client while the link is stalled: only its own idle detection ends the call.
    const interrupted = await delivery;

    const detectedAfterMs = performance.now() - stalledAt;
    expect(interrupted.error).toBeInstanceOf(PogRPCCallError);
    const silentForMs = Number(/no octet moved on the call for (\d+) ms/.exec(interrupted.error?.message ?? '')?.[1]);
    expect(silentForMs).toBeGreaterThanOrEqual(IDLE_MS);
    expect((interrupted.error as PogRPCCallError).code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(interrupted.acked).toEqual([]);
    expect(interrupted.unacked.map((u) => u.id)).toEqual(['stalled']);
    // The client's last octets went into the proxy's and the kernel's buffers before the stall showed there.
    expect(detectedAfterMs).toBeLessThan(IDLE_MS * 4);
    expect(stored).toHaveLength(0);

    link.resume();
    let retried = await sender.deliverParcels(interrupted.unacked);
    // The server dropped the silent connection too. A retry that leaves before the client has heard of that gets
    // UNAVAILABLE ("Connection dropped") and the next one reconnects, as the gateway's delivery loop does.
    for (
      let attempt = 1;
      attempt < 3 && (retried.error as PogRPCCallError | undefined)?.code === grpc.status.UNAVAILABLE;
      attempt++
    ) {
      retried = await sender.deliverParcels(retried.unacked);
    }
    expect(retried.error).toBeUndefined();
    expect(retried.acked).toEqual(['stalled']);
    expect(stored).toEqual([parcel]);
  }, 60_000);

  it('a server that takes a parcel and never acks it is dropped after about the idle period, though it keeps pinging', async () => {
    let storing = 0;
    // Never resolves: the server pauses its own idle rule while storing and goes on pinging every IDLE_MS / 2.
    const { client: sender } = await start({ bytesPerSecond: 1024 * 1024, latencyMs: 0 }, {}, () => {
      storing++;
      return new Promise<void>(() => undefined);
    });
    const started = performance.now();

    const report = await sender.deliverParcels([{ id: 'unacked', parcel: Buffer.alloc(64 * 1024, 5) }]);

    expect(storing).toBe(1);
    expect(report.error?.message).toMatch(/idle: no octet moved on the call/);
    expect(report.unacked.map((u) => u.id)).toEqual(['unacked']);
    expect(performance.now() - started).toBeLessThan(IDLE_MS * 4);
  }, 60_000);
});
