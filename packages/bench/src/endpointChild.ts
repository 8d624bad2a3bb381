/**
 * One endpoint of the end-to-end groups in a process of its own, as in the real system (an app is bin/twitter-app,
 * the adapter bin/twitter-api-adapter), driven by the bench over IPC (see endpointHost.ts for the calls). Keeping
 * the apps and the adapter out of the bench's process keeps its one event loop from being what the figures measure.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { silentLogger } from '@twitter-relaynet/core';
import {
  type DeliveryAuthorization,
  deserializeDeliveryAuthorization,
  type PublicPeer,
  PoWebSocketGatewayTransport,
  PrivateEndpoint,
  PublicEndpoint,
  readConnectionParameters,
  serializeDeliveryAuthorization,
} from '@twitter-relaynet/endpoint';

import { madeAhead, mapConcurrently } from './concurrency';
import type { EndpointCall, EndpointReply, ParcelLoad } from './endpointHost';

/** One endpoint this process holds, open or not; `close` may be called either way. */
class Side<Endpoint extends { close(): Promise<void> }> {
  protected endpoint: Endpoint | null = null;

  constructor(private readonly what: string) {}

  async close(): Promise<void> {
    const endpoint = this.endpoint;
    this.endpoint = null;
    await endpoint?.close();
  }

  protected opened(): Endpoint {
    if (!this.endpoint) throw new Error(`The ${this.what} is not open`);
    return this.endpoint;
  }
}

/** The adapter's side: a PublicEndpoint on PogRPC, counting what it receives and keeping the apps' PDAs. */
class AdapterSide extends Side<PublicEndpoint> {
  private received = 0;
  private readonly pdas = new Map<string, DeliveryAuthorization>();

  constructor() {
    super('adapter');
  }

  async open(args: { dir: string; internetAddress: string; relayerRouteFile: string }): Promise<{ id: string }> {
    mkdirSync(args.dir, { recursive: true, mode: 0o700 });
    const route = () => {
      const { address, tlsCertificatePem } = JSON.parse(readFileSync(args.relayerRouteFile, 'utf8')) as {
        address: string;
        tlsCertificatePem: string;
      };
      return { target: address, tls: { pinnedCertificatePem: tlsCertificatePem } };
    };
    const endpoint = await PublicEndpoint.open({
      dataDir: join(args.dir, 'endpoint'),
      internetAddress: args.internetAddress,
      logger: silentLogger,
      backoff: { initialDelayMs: 100, maxDelayMs: 1_000, jitter: 0 },
      onMessage: async (message) => {
        if (message.type === 'pda') {
          this.pdas.set(message.sender.id, deserializeDeliveryAuthorization(message.content));
        } else {
          this.received += 1;
        }
      },
      relayingGateway: route,
    });
    this.endpoint = endpoint;
    const server = await endpoint.listen({ address: '127.0.0.1:0', tls: { stateDir: args.dir } });
    writeFileSync(
      join(args.dir, 'pogrpc.json'),
      JSON.stringify({
        internetAddress: args.internetAddress,
        address: `127.0.0.1:${server.port}`,
        tlsCertificatePem: server.certificatePem,
      }),
    );
    await endpoint.publishConnectionParameters(join(args.dir, 'connection-parameters.json'));
    return { id: endpoint.id };
  }

  status(): { received: number; pdaIds: string[] } {
    return { received: this.received, pdaIds: [...this.pdas.keys()] };
  }

  /** Queue parcels for the apps, each with the PDA its app sent; resolves once all are in the outbox. */
  async send(args: { targets: readonly { appId: string; n: number }[] } & ParcelLoad): Promise<number> {
    const endpoint = this.opened();
    const recipients = args.targets.flatMap(({ appId, n }) => {
      const authorization = this.pdas.get(appId);
      if (!authorization) throw new Error(`The adapter has no PDA from ${appId}`);
      return Array.from({ length: n }, () => authorization);
    });
    await mapConcurrently(recipients, args.concurrency, (authorization) =>
      endpoint.sendMessage({ type: args.type, content: randomBytes(args.contentBytes) }, { authorization }),
    );
    return recipients.length;
  }
}

/** An app: a private endpoint registered with the user gateway, with the adapter as its peer. */
class AppSide extends Side<PrivateEndpoint> {
  private peer: PublicPeer | null = null;
  private received = 0;

  constructor() {
    super('app');
  }

  /** Register, add the adapter as a peer and queue a PDA for it (it leaves on the next trip). */
  async open(args: { dataDir: string; socketPath: string; adapterParametersFile: string }): Promise<{ id: string }> {
    const endpoint = await PrivateEndpoint.open({
      dataDir: args.dataDir,
      logger: silentLogger,
      transport: new PoWebSocketGatewayTransport({ socketPath: args.socketPath, logger: silentLogger }),
    });
    this.endpoint = endpoint;
    await endpoint.register();
    const peer = await endpoint.addPublicPeer(await readConnectionParameters(args.adapterParametersFile));
    this.peer = peer;
    const authorization = await endpoint.issuePda(peer.identityCertificate, new Date(Date.now() + 7 * 24 * 3_600_000));
    await endpoint.sendMessage(peer.internetAddress, {
      type: 'pda',
      content: serializeDeliveryAuthorization(authorization),
    });
    return { id: endpoint.id };
  }

  /** Make `n` parcels for the adapter and deliver each as soon as it is made (the window's worth unacknowledged). */
  async send(args: { n: number } & ParcelLoad): Promise<number> {
    const endpoint = this.opened();
    const peerId = this.peer!.id;
    await endpoint.deliverParcels(
      madeAhead(args.n, args.concurrency, () =>
        endpoint.makeParcel(peerId, { type: args.type, content: randomBytes(args.contentBytes) }),
      ),
    );
    return args.n;
  }

  /** Collect what the user gateway holds for this app; resolves to the messages received so far, in all. */
  async collect(): Promise<number> {
    await this.opened().collectMessages({ onMessage: async () => void (this.received += 1) });
    return this.received;
  }

  get receivedSoFar(): number {
    return this.received;
  }
}

const adapter = new AdapterSide();
const app = new AppSide();

async function handle(call: EndpointCall): Promise<unknown> {
  switch (call.op) {
    case 'openAdapter':
      return adapter.open(call.args);
    case 'adapterStatus':
      return adapter.status();
    case 'adapterSend':
      return adapter.send(call.args);
    case 'openApp':
      return app.open(call.args);
    case 'appSend':
      return app.send(call.args);
    case 'appCollect':
      return app.collect();
    case 'appReceived':
      return app.receivedSoFar;
    case 'close':
      await Promise.all([adapter.close(), app.close()]);
      return null;
  }
}

process.on('message', (call: EndpointCall) => {
  handle(call).then(
    (result) => process.send!({ id: call.id, ok: true, result } satisfies EndpointReply),
    (error: unknown) =>
      process.send!({
        id: call.id,
        ok: false,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      } satisfies EndpointReply),
  );
});
// The bench going away (disconnect) ends this process: no orphan holding ports and files.
process.on('disconnect', () => {
  void Promise.all([adapter.close(), app.close()]).finally(() => process.exit(0));
});
process.send!({ id: 0, ok: true, result: 'ready' } satisfies EndpointReply);
