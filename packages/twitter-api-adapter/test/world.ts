/**
 * The adapter between a real X API emulator (over HTTP, through twitter-api-v2) and a real app-side private
 * endpoint (behind the endpoint library's in-memory user gateway). Parcels from the app are handed to the
 * adapter's public endpoint as the relaying gateway would; the adapter's parcels are taken from its outbox (no
 * relaying gateway configured) and given to the app, which decrypts and checks them. One ManualClock drives the
 * adapter, the app and the emulator (tweet times, rate-limit windows).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { MemoryLogger } from '@twitter-relaynet/core';
import {
  createMemoryStores,
  ManualClock,
  PrivateEndpoint,
  PublicEndpoint,
  serializeDeliveryAuthorization,
  type DeliveryAuthorization,
} from '@twitter-relaynet/endpoint';
import { MemoryGatewayTransport } from '@twitter-relaynet/test-support/endpoint';
import {
  decodeServiceMessage,
  serviceMessages,
  type TwitterServiceMessage,
  type UserCredentials,
} from '@twitter-relaynet/twitter-service';
import { startEmulator, type EndpointName, type RunningEmulator } from '@twitter-relaynet/x-api-emulator';

import { TwitterApiAdapter, type TwitterApiAdapterOptions } from '../src/adapter';
import { TwitterApiV2Client } from '../src/xApi';

export const ADAPTER_ADDRESS = 'twitter-api-adapter.relaynet.test';
export const GATEWAY_ADDRESS = '127.0.0.1:21477';
export const RETRY = { initialDelayMs: 5_000, maxDelayMs: 60_000 } as const;

export interface WorldOptions {
  readonly rateLimits?: Partial<Record<EndpointName, number>>;
  readonly adapter?: Partial<TwitterApiAdapterOptions>;
}

export class World {
  static async create(options: WorldOptions = {}): Promise<World> {
    const dir = mkdtempSync(join(tmpdir(), 'adapter-world-'));
    const clock = new ManualClock(new Date());
    const world = new World(dir, clock, options);
    try {
      await world.startEmulator();
      await world.openAdapter();
      world.app = await PrivateEndpoint.open({
        stores: createMemoryStores(),
        transport: await MemoryGatewayTransport.create(),
        clock,
      });
      await world.app.register();
      await world.app.addPublicPeer(await world.adapter.endpoint.getConnectionParameters());
    } catch (error) {
      await world.close();
      throw error;
    }
    return world;
  }

  emulator!: RunningEmulator;
  adapter!: TwitterApiAdapter;
  app!: PrivateEndpoint;
  /** Every request the emulator answered: "201 POST /2/tweets". */
  readonly requests: string[] = [];
  readonly logger = new MemoryLogger();
  private emulatorPort = 0;

  private constructor(
    readonly dir: string,
    readonly clock: ManualClock,
    private readonly options: WorldOptions,
  ) {}

  get user(): UserCredentials {
    return { accessToken: this.emulator.credentials.accessToken, accessSecret: this.emulator.credentials.accessSecret };
  }

  async startEmulator(): Promise<void> {
    this.emulator = await startEmulator({
      port: this.emulatorPort,
      dataDir: join(this.dir, 'emulator'),
      clock: () => this.clock.now().getTime(),
      // twitter-api-v2 signs with the real time; the emulator's clock is the test's.
      oauthTimestampToleranceSeconds: null,
      rateLimits: this.options.rateLimits,
      log: (line) => {
        if (/^\d{3} [A-Z]+ \//.test(line)) this.requests.push(line);
      },
    });
    this.emulatorPort = this.emulator.port;
  }

  async openAdapter(): Promise<void> {
    const credentials = this.emulator.credentials;
    this.adapter = await TwitterApiAdapter.open({
      dataDir: join(this.dir, 'adapter'),
      internetAddress: ADAPTER_ADDRESS,
      api: new TwitterApiV2Client({
        baseUrl: this.emulator.url,
        consumerKey: credentials.appKey,
        consumerSecret: credentials.appSecret,
        isRealApi: false,
        credentialsSource: 'emulator defaults',
      }),
      clock: this.clock,
      logger: this.logger,
      workIntervalMs: 0,
      syncIntervalMs: 60_000,
      retry: RETRY,
      ...this.options.adapter,
    });
  }

  /** Close and reopen the adapter on the same data directory (a restart). */
  async restartAdapter(): Promise<void> {
    await this.adapter.close();
    await this.openAdapter();
  }

  /** Requests the emulator answered for `route` (e.g. 'POST /2/tweets'), with their statuses. */
  requestsTo(method: string, pathPattern: RegExp): string[] {
    return this.requests.filter((line) => {
      const [, verb, path] = line.split(' ');
      return verb === method && pathPattern.test(path.replace(/\?.*$/, ''));
    });
  }

  postRequests(): string[] {
    return this.requestsTo('POST', /^\/2\/tweets$/);
  }

  /** Hand a parcel from the app to the adapter, as the relaying gateway does over PogRPC. */
  async deliver(message: { type: string; content: Buffer }, from: PrivateEndpoint = this.app) {
    const parcel = await from.makeParcel(this.adapter.id, message);
    const outcome = await this.adapter.endpoint.receiveParcel(parcel.parcel, { gatewayAddress: GATEWAY_ADDRESS });
    return { parcel, outcome };
  }

  async tweet(text: string, options: { id?: string; credentials?: UserCredentials } = {}) {
    const id = options.id ?? `tweet-${Math.random().toString(16).slice(2)}`;
    const result = await this.deliver(
      serviceMessages.tweet({
        id,
        text,
        credentials: options.credentials ?? this.user,
        creationDate: this.clock.now(),
      }),
    );
    return { id, ...result };
  }

  async issuePda(
    from: PrivateEndpoint = this.app,
    holder = this.adapter.endpoint.certificate,
  ): Promise<DeliveryAuthorization> {
    return from.issuePda(holder, new Date(this.clock.now().getTime() + 30 * 86_400_000));
  }

  async subscribe(
    options: { authorization?: DeliveryAuthorization; from?: PrivateEndpoint; credentials?: UserCredentials } = {},
  ) {
    const from = options.from ?? this.app;
    const authorization = options.authorization ?? (await this.issuePda(from));
    return this.deliver(
      serviceMessages.updateSubscription({
        deliveryAuthorization: serializeDeliveryAuthorization(authorization),
        credentials: options.credentials ?? this.user,
        creationDate: this.clock.now(),
      }),
      from,
    );
  }

  /**
   * Take every parcel the adapter queued for the app (its outbox), hand each to the app and return the decoded
   * messages, in queue order. The outbox is emptied as the relaying gateway's acknowledgements would.
   */
  async collect(to: PrivateEndpoint = this.app): Promise<Array<TwitterServiceMessage & { parcelId: string }>> {
    const outbox = this.adapter.endpoint.stores.outbox;
    const entries = await outbox.listDue(this.clock.now(), 1000);
    expect(await outbox.count()).toBe(entries.length); // nothing else is waiting (or expired)
    const messages: Array<TwitterServiceMessage & { parcelId: string }> = [];
    for (const entry of entries) {
      await to.receiveParcel(entry.parcel, async (message) => {
        const decoded = decodeServiceMessage(message.type, message.content);
        if (!decoded) throw new Error(`Unexpected message type ${message.type}`);
        messages.push({ ...decoded, parcelId: message.parcelId });
      });
      await outbox.delete(entry.parcelId);
    }
    return messages;
  }

  async close(): Promise<void> {
    await this.adapter?.close();
    await this.app?.close();
    await this.emulator?.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A second public endpoint (another service), to issue PDAs to something other than the adapter. */
export async function otherPublicEndpoint(): Promise<PublicEndpoint> {
  return PublicEndpoint.open({
    stores: createMemoryStores(),
    internetAddress: 'other.relaynet.test',
    onMessage: async () => undefined,
  });
}

export async function otherApp(world: World): Promise<PrivateEndpoint> {
  const app = await PrivateEndpoint.open({
    stores: createMemoryStores(),
    transport: await MemoryGatewayTransport.create(),
    clock: world.clock,
  });
  await app.register();
  await app.addPublicPeer(await world.adapter.endpoint.getConnectionParameters());
  return app;
}
