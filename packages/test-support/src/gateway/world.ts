/**
 * Test fixtures: two gateways, an app endpoint, the adapter's public endpoint and its PDA, with
 * RSA keys generated once per test file (key generation is the slow part).
 */
import {
  type Certificate,
  generateRsaKeyPair,
  issueDeliveryAuthorization,
  issueEndpointCertificate,
  type KeyPair,
  MemoryLogger,
  Parcel,
  type RamfMessageOptions,
} from '@twitter-relaynet/core';

import {
  createMemoryStores,
  type GatewayStores,
  ManualClock,
  RelayingGateway,
  selfIssueGatewayCertificate,
  UserGateway,
} from '@twitter-relaynet/gateway';

export const ADAPTER_ADDRESS = 'twitter.relaynet.test';
const KEY_POOL_SIZE = 8;

let keyPool: Promise<readonly KeyPair[]> | undefined;

/** RSA-2048 key pairs shared by every test of a file. */
export function getKeyPairs(): Promise<readonly KeyPair[]> {
  keyPool ??= Promise.all(Array.from({ length: KEY_POOL_SIZE }, () => generateRsaKeyPair()));
  return keyPool;
}

export interface NodeFixture {
  readonly keyPair: KeyPair;
  readonly certificate: Certificate;
}

export interface World {
  readonly clock: ManualClock;
  readonly relaying: RelayingGateway;
  readonly relayingNode: NodeFixture;
  readonly relayingStores: GatewayStores;
  readonly relayingLogger: MemoryLogger;
  readonly user: UserGateway;
  readonly userNode: NodeFixture;
  readonly userStores: GatewayStores;
  readonly userLogger: MemoryLogger;
  /** The app's private endpoint, registered with the user gateway. */
  readonly app: NodeFixture;
  /** The adapter's public endpoint (self-issued) and the PDA the app gave it. */
  readonly adapter: NodeFixture & { readonly pda: Certificate };
  /** Keys nobody uses: for attackers and extra nodes. */
  readonly spareKeys: readonly KeyPair[];
}

export interface WorldOptions {
  readonly relayingStores?: GatewayStores;
  readonly userStores?: GatewayStores;
  readonly maxCargoSetLength?: number;
  readonly start?: Date;
}

export async function makeWorld(options: WorldOptions = {}): Promise<World> {
  const [relayingKeys, userKeys, appKeys, adapterKeys, ...spareKeys] = await getKeyPairs();
  const clock = new ManualClock(options.start ?? new Date());
  const relayingStores = options.relayingStores ?? createMemoryStores();
  const userStores = options.userStores ?? createMemoryStores();
  const relayingLogger = new MemoryLogger();
  const userLogger = new MemoryLogger();

  const relayingCertificate = await selfIssueGatewayCertificate(relayingKeys, { clock });
  const relaying = new RelayingGateway({
    identity: { privateKey: relayingKeys.privateKey, certificate: relayingCertificate },
    stores: relayingStores,
    clock,
    logger: relayingLogger,
    maxCargoSetLength: options.maxCargoSetLength,
  });
  const userCertificate = await relaying.registerUserGateway(userKeys.publicKey);
  const user = new UserGateway({
    identity: { privateKey: userKeys.privateKey, certificate: userCertificate },
    relayingGateway: { certificate: relayingCertificate },
    stores: userStores,
    clock,
    logger: userLogger,
    maxCargoSetLength: options.maxCargoSetLength,
  });
  const appCertificate = await user.registerEndpoint(appKeys.publicKey);
  const now = clock.now().getTime();
  const dates = { validityStartDate: new Date(now - 4 * 3_600_000), validityEndDate: new Date(now + 90 * 86_400_000) };
  const adapterCertificate = await issueEndpointCertificate({
    ...dates,
    subjectPublicKey: adapterKeys.publicKey,
    issuerPrivateKey: adapterKeys.privateKey,
  });
  const pda = await issueDeliveryAuthorization({
    subjectPublicKey: adapterKeys.publicKey,
    issuerPrivateKey: appKeys.privateKey,
    issuerCertificate: appCertificate,
    validityStartDate: appCertificate.startDate,
    validityEndDate: appCertificate.expiryDate,
  });
  return {
    clock,
    relaying,
    relayingNode: { keyPair: relayingKeys, certificate: relayingCertificate },
    relayingStores,
    relayingLogger,
    user,
    userNode: { keyPair: userKeys, certificate: userCertificate },
    userStores,
    userLogger,
    app: { keyPair: appKeys, certificate: appCertificate },
    adapter: { keyPair: adapterKeys, certificate: adapterCertificate, pda },
    spareKeys,
  };
}

export interface TestParcelOptions extends RamfMessageOptions {
  /** Opaque payload (gateways never read it). */
  readonly payload?: Buffer;
}

/** A parcel from the app to the adapter, as the app's endpoint would send it. */
export function makeParcelToAdapter(world: World, options: TestParcelOptions = {}): Promise<Buffer> {
  const parcel = new Parcel(
    { id: world.adapter.certificate.calculateSubjectId(), internetAddress: ADAPTER_ADDRESS },
    world.app.certificate,
    options.payload ?? Buffer.from('tweet'),
    {
      creationDate: world.clock.now(),
      ttl: 86_400,
      senderCaCertificateChain: [world.userNode.certificate],
      ...options,
    },
  );
  return parcel.serialize(world.app.keyPair.privateKey);
}

/** A parcel from the adapter to the app, signed with the app's PDA. */
export function makeParcelToApp(
  world: World,
  options: TestParcelOptions & { readonly recipient?: NodeFixture; readonly pda?: Certificate } = {},
): Promise<Buffer> {
  const recipient = options.recipient ?? world.app;
  const parcel = new Parcel(
    { id: recipient.certificate.calculateSubjectId() },
    options.pda ?? world.adapter.pda,
    options.payload ?? Buffer.from('timeline'),
    {
      creationDate: world.clock.now(),
      ttl: 86_400,
      senderCaCertificateChain: [recipient.certificate, world.userNode.certificate],
      ...options,
    },
  );
  return parcel.serialize(world.adapter.keyPair.privateKey);
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}
