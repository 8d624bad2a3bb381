/**
 * The `core` group: @twitter-relaynet/core side by side with @relaycorp/relaynet-core@1.88.2 and
 * the raw-crypto floor (see coreFloor.ts), all at the same concurrency, in one process.
 *
 * - core.parcelSerialize / core.parcelSerializeSession: ServiceMessage with 1 KiB of content →
 *   EnvelopedData (sessionless: RSA-OAEP to the recipient's certificate; session: ECDH with its
 *   session key) → Parcel signed with RSA-PSS (sender certificate: a PDA; chain: the recipient's
 *   certificate);
 * - core.parcelUnwrap / core.parcelUnwrapSession: deserialize (message signature), validate
 *   against the recipient's certificate (one certificate signature), decrypt;
 * - core.cargoBuild / core.cargoUnwrap: a cargo of 100 such (session) parcels; unwrapping also
 *   deserializes every parcel, which verifies its signature;
 * - core.bigRoundTrip: the largest session parcel a cargo can carry (~8 MiB) serialized and
 *   unwrapped in a child process of its own, for its peak RSS (and in another for relaynet-core's).
 *
 * Unwrap measurements use the same bytes (made by @twitter-relaynet/core) for every implementation.
 */
import {
  CargoMessageSet,
  FORMAT_SIGNATURE_LENGTH,
  MAX_PARCEL_LENGTH,
  ServiceMessage,
  verifySignedData,
} from '@twitter-relaynet/core';
import { runProcess } from '@twitter-relaynet/test-support';
import { randomBytes, type KeyObject } from 'node:crypto';
import { join } from 'node:path';

import { measureThroughput, type BenchGroup, type FigureRegistry, type GroupContext, type Target } from '../harness';
import { fixtureToJson, makeCoreFixture, type CoreFixture } from './coreFixture';
import {
  floorOaepDecrypt,
  floorOaepEncrypt,
  floorSerializeSession,
  floorSerializeSessionless,
  floorSignContent,
  floorUnwrap,
  floorUnwrapCargo,
  rsaPssSign,
  rsaPssVerify,
  type FloorKeys,
  type FloorMessage,
} from './coreFloor';
import { makeOurOps } from './coreOurs';
import { makeReferenceOps } from './coreReference';
import { SERVICE_MESSAGE_TYPE, type CoreOps, type PayloadMode } from './coreShared';
import { peakRss, type RssChildResult } from './coreRssChild';

export const PARCEL_CONTENT_LENGTH = 1024;
export const CARGO_PARCELS = 100;
const UNWRAP_POOL = 16;

/** What --core-only may name: a measurement (with its floor and relaynet-core), or the primitive floors. */
export const CORE_MEASUREMENTS = [
  'floor',
  'parcelSerialize',
  'parcelUnwrap',
  'parcelSerializeSession',
  'parcelUnwrapSession',
  'cargoBuild',
  'cargoUnwrap',
  'bigRoundTrip',
] as const;
const CARGO_POOL = 4;

/** Targets from the issue: ≥10× relaynet-core, within 2× of the floor, RSS < 4× the message. */
export const TARGETS = {
  vsRelaynetCore: { min: 10 } as Target,
  vsFloor: { min: 0.5 } as Target,
  peakRssToMessageSize: { max: 4 } as Target,
};

export const coreGroup: BenchGroup = {
  name: 'core',
  description: 'Protocol core: parcels, cargo and a large payload, vs relaynet-core 1.88.2 and the raw-crypto floor',
  run: runCore,
};

interface Subject {
  /** Figure name infix: '' for ours, '.relaynetCore', '.floor'. */
  readonly infix: string;
  readonly label: string;
  readonly op: () => Promise<unknown>;
}

async function runCore({ options, figures, log }: GroupContext): Promise<void> {
  const wanted = (name: (typeof CORE_MEASUREMENTS)[number]) => !options.coreOnly || options.coreOnly.includes(name);
  const measure = async (name: string, unit: string, subjects: readonly Subject[]) => {
    for (const subject of subjects) {
      log(`${name}${subject.infix}: measuring ${subject.label}`);
      const result = await measureThroughput(subject.op, options);
      figures.record(`${name}${subject.infix}.opsPerSec`, result.opsPerSec, unit);
    }
    compare(figures, name);
  };

  log('core: building the PKI fixture');
  const fixture = await makeCoreFixture();
  const ours = makeOurOps(fixture);
  const theirs = await makeReferenceOps(fixture);
  const parcelKeys = await floorKeysFor(fixture, 'parcel');
  const cargoKeys = await floorKeysFor(fixture, 'cargo');
  const content = randomBytes(PARCEL_CONTENT_LENGTH);
  const plaintext = new ServiceMessage(SERVICE_MESSAGE_TYPE, content).serialize();
  await selfCheck(ours, theirs, content);

  // Primitive floors, for reading the others.
  if (wanted('floor')) await measurePrimitiveFloors(parcelKeys, options, figures, log);

  // 1 KiB parcels, each way, both payload kinds.
  for (const mode of ['sessionless', 'session'] as const) {
    const suffix = mode === 'session' ? 'Session' : '';
    const floorSerialize = mode === 'session' ? floorSerializeSession : floorSerializeSessionless;
    if (wanted(`parcelSerialize${suffix}`)) {
      await measure(`core.parcelSerialize${suffix}`, 'ops/s', [
        { infix: '', label: '@twitter-relaynet/core', op: () => ours.serializeParcel(mode, content) },
        { infix: '.floor', label: 'raw crypto', op: () => floorSerialize(parcelKeys, plaintext) },
        { infix: '.relaynetCore', label: 'relaynet-core', op: () => theirs.serializeParcel(mode, content) },
      ]);
    }
    if (!wanted(`parcelUnwrap${suffix}`)) continue;
    const parcels = await Promise.all(Array.from({ length: UNWRAP_POOL }, () => ours.serializeParcel(mode, content)));
    const floorMessages = await Promise.all(
      Array.from({ length: UNWRAP_POOL }, () => floorSerialize(parcelKeys, plaintext)),
    );
    await measure(`core.parcelUnwrap${suffix}`, 'ops/s', [
      {
        infix: '',
        label: '@twitter-relaynet/core',
        op: roundRobin(parcels, (parcel) => ours.unwrapParcel(mode, parcel)),
      },
      {
        infix: '.floor',
        label: 'raw crypto',
        op: roundRobin(floorMessages, (message) => floorUnwrap(parcelKeys, message)),
      },
      {
        infix: '.relaynetCore',
        label: 'relaynet-core',
        op: roundRobin(parcels, (parcel) => theirs.unwrapParcel(mode, parcel)),
      },
    ]);
  }

  // Cargo of 100 session parcels.
  const cargoParcels = await Promise.all(
    Array.from({ length: CARGO_PARCELS }, () => ours.serializeParcel('session' as PayloadMode, content)),
  );
  const messageSet = new CargoMessageSet(cargoParcels).serialize();
  if (wanted('cargoBuild')) {
    await measure('core.cargoBuild', 'cargo/s', [
      { infix: '', label: '@twitter-relaynet/core', op: () => ours.buildCargo(cargoParcels) },
      { infix: '.floor', label: 'raw crypto', op: () => floorSerializeSession(cargoKeys, messageSet) },
      { infix: '.relaynetCore', label: 'relaynet-core', op: () => theirs.buildCargo(cargoParcels) },
    ]);
  }
  if (wanted('cargoUnwrap')) {
    const cargoes = await Promise.all(Array.from({ length: CARGO_POOL }, () => ours.buildCargo(cargoParcels)));
    const floorCargoes: FloorMessage[] = await Promise.all(
      Array.from({ length: CARGO_POOL }, () => floorSerializeSession(cargoKeys, messageSet)),
    );
    // A parcel's signature digests its RAMF fields (the SignedData's eContent), not the whole
    // parcel: the floor hashes as many octets (it hashed the whole parcel, about three times as many).
    const floorParcels = await Promise.all(
      cargoParcels.map(async (parcel) => {
        const { plaintext } = await verifySignedData(parcel.subarray(FORMAT_SIGNATURE_LENGTH));
        return { content: plaintext, signature: await floorSignContent(parcelKeys, plaintext) };
      }),
    );
    await measure('core.cargoUnwrap', 'cargo/s', [
      { infix: '', label: '@twitter-relaynet/core', op: roundRobin(cargoes, (cargo) => ours.unwrapCargo(cargo)) },
      {
        infix: '.floor',
        label: 'raw crypto',
        op: roundRobin(floorCargoes, (cargo) => floorUnwrapCargo(cargoKeys, cargo, parcelKeys, floorParcels)),
      },
      {
        infix: '.relaynetCore',
        label: 'relaynet-core',
        op: roundRobin(cargoes, (cargo) => theirs.unwrapCargo(cargo)),
      },
    ]);
  }

  if (wanted('bigRoundTrip')) await measureBigRoundTrip(fixture, ours, theirs, figures, log);
}

/** The primitive floors (one RSA-PSS signature, verification, RSA-OAEP decryption), for reading the others. */
async function measurePrimitiveFloors(
  parcelKeys: FloorKeys,
  options: GroupContext['options'],
  figures: FigureRegistry,
  log: (message: string) => void,
): Promise<void> {
  const signedAttributes = randomBytes(93);
  const signature = await rsaPssSign(signedAttributes, parcelKeys.senderPrivateKey);
  const encryptedKey = floorOaepEncrypt(parcelKeys, randomBytes(16));
  for (const [name, op] of [
    ['core.floor.rsaSign', () => rsaPssSign(signedAttributes, parcelKeys.senderPrivateKey)],
    ['core.floor.rsaVerify', () => rsaPssVerify(signedAttributes, parcelKeys.senderPublicKey, signature)],
    ['core.floor.rsaOaepDecrypt', async () => floorOaepDecrypt(parcelKeys, encryptedKey)],
  ] as const) {
    log(`${name}: measuring`);
    figures.record(`${name}.opsPerSec`, (await measureThroughput(op, options)).opsPerSec, 'ops/s');
  }
}

/** The ratios of a throughput figure to its baselines. */
function compare(figures: FigureRegistry, name: string): void {
  figures.ratio(`${name}.vsRelaynetCore`, `${name}.opsPerSec`, `${name}.relaynetCore.opsPerSec`, {
    label: 'relaynet-core',
    target: TARGETS.vsRelaynetCore,
  });
  figures.ratio(`${name}.vsFloor`, `${name}.opsPerSec`, `${name}.floor.opsPerSec`, {
    label: 'floor',
    target: TARGETS.vsFloor,
  });
  figures.ratio(`${name}.relaynetCore.vsFloor`, `${name}.relaynetCore.opsPerSec`, `${name}.floor.opsPerSec`, {
    label: 'floor',
  });
}

function roundRobin<T>(items: readonly T[], op: (item: T) => Promise<unknown>): () => Promise<unknown> {
  let next = 0;
  return () => op(items[next++ % items.length]);
}

async function floorKeysFor(fixture: CoreFixture, kind: 'parcel' | 'cargo'): Promise<FloorKeys> {
  const [sender, issuer, recipient, session] =
    kind === 'parcel'
      ? [fixture.publicEndpoint, fixture.privateEndpoint, fixture.privateEndpoint, fixture.privateEndpointSession]
      : [fixture.privateGateway, fixture.internetGateway, fixture.internetGateway, fixture.internetGatewaySession];
  const senderCertificateTbs = sender.certificate.serialize();
  return {
    senderPrivateKey: sender.keyPair.privateKey,
    senderPublicKey: sender.keyPair.publicKey,
    issuerPublicKey: issuer.keyPair.publicKey,
    recipientRsaPublicKey: recipient.keyPair.publicKey,
    recipientRsaPrivateKey: recipient.keyPair.privateKey,
    recipientSessionPublicKey: session.sessionKey.publicKey,
    recipientSessionPrivateKey: session.privateKey as KeyObject,
    senderCertificateTbs,
    senderCertificateSignature: await rsaPssSign(senderCertificateTbs, issuer.keyPair.privateKey),
  };
}

/** Every implementation reads what the other wrote, before anything is timed. */
async function selfCheck(ours: CoreOps, theirs: CoreOps, content: Buffer): Promise<void> {
  for (const mode of ['sessionless', 'session'] as const) {
    for (const [writer, reader] of [
      [ours, theirs],
      [theirs, ours],
      [ours, ours],
    ]) {
      const received = await reader.unwrapParcel(mode, await writer.serializeParcel(mode, content));
      if (!received.equals(content)) throw new Error(`core bench self-check failed (${mode})`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Large payload, peak RSS

async function measureBigRoundTrip(
  fixture: CoreFixture,
  ours: CoreOps,
  theirs: CoreOps,
  figures: FigureRegistry,
  log: (message: string) => void,
): Promise<void> {
  const fixtureJson = JSON.stringify(fixtureToJson(fixture));
  const childPath = join(__dirname, 'coreRssChild.js');
  const run = async (impl: 'ours' | 'relaynet-core', ops: CoreOps, prefix: string) => {
    const contentLength = await largestSessionContent(ops);
    log(`${prefix}: ${contentLength} octets of content, in a child process`);
    const result = JSON.parse(await runChild([childPath, impl, String(contentLength)], fixtureJson)) as RssChildResult;
    figures.record(`${prefix}.messageSize.bytes`, result.messageLength, 'B');
    figures.record(`${prefix}.peakRss.bytes`, result.peakRssBytes, 'B');
    figures.record(`${prefix}.ms`, result.ms, 'ms');
    if (result.peakRssSource !== 'VmHWM') figures.note(`${prefix}.peakRss is ru_maxrss (no /proc/self/status)`);
  };

  await run('ours', ours, 'core.bigRoundTrip');
  try {
    await run('relaynet-core', theirs, 'core.bigRoundTrip.relaynetCore');
  } catch (error) {
    // relaynet-core 1.88.2 cannot read back its own ~8 MiB session payload ("Value is not DER-encoded").
    const reason = (error as Error).message.split('\n').slice(0, 2).join(' ');
    figures.note(`core.bigRoundTrip.relaynetCore failed: ${reason}`);
  }
  log('core.bigRoundTrip.idleNode: an idle node process, for reference (not subtracted)');
  const idle = JSON.parse(
    await runChild(['-e', `${peakRss.toString()}; process.stdout.write(JSON.stringify(peakRss()));`], ''),
  ) as ReturnType<typeof peakRss>;
  figures.record('core.bigRoundTrip.idleNode.peakRss.bytes', idle.peakRssBytes, 'B');
  // What the large message itself costs: the peak above the same child (same code, same
  // fixture, same modules loaded) round-tripping a 1 KiB message, measured in this run.
  log('core.bigRoundTrip.smallMessage: the same child with 1 KiB of content (the baseline)');
  const small = JSON.parse(await runChild([childPath, 'ours', '1024'], fixtureJson)) as RssChildResult;
  figures.record('core.bigRoundTrip.smallMessage.peakRss.bytes', small.peakRssBytes, 'B');
  const ourPeak = figures.get('core.bigRoundTrip.peakRss.bytes');
  if (ourPeak) {
    figures.record('core.bigRoundTrip.peakRssAboveIdle.bytes', Math.max(0, ourPeak.value - small.peakRssBytes), 'B');
  }

  const ratio = (name: string, numerator: string, denominator: string, label: string, target?: Target) =>
    figures.ratio(`core.bigRoundTrip.${name}`, `core.bigRoundTrip.${numerator}`, `core.bigRoundTrip.${denominator}`, {
      label,
      target,
    });
  ratio('peakRssToMessageSize', 'peakRss.bytes', 'messageSize.bytes', 'message size');
  ratio(
    'peakRssAboveIdleToMessageSize',
    'peakRssAboveIdle.bytes',
    'messageSize.bytes',
    'message size',
    TARGETS.peakRssToMessageSize,
  );
  ratio('peakRssVsRelaynetCore', 'peakRss.bytes', 'relaynetCore.peakRss.bytes', 'relaynet-core');
  ratio('peakRssVsIdleNode', 'peakRss.bytes', 'idleNode.peakRss.bytes', 'idle node');
  ratio('msVsRelaynetCore', 'ms', 'relaynetCore.ms', 'relaynet-core');
  ratio(
    'relaynetCore.peakRssToMessageSize',
    'relaynetCore.peakRss.bytes',
    'relaynetCore.messageSize.bytes',
    'message size',
  );
  ratio('relaynetCore.peakRssVsIdleNode', 'relaynetCore.peakRss.bytes', 'idleNode.peakRss.bytes', 'idle node');
}

/**
 * The largest content whose session parcel, as `ops` serializes it, still fits in a cargo
 * (MAX_PARCEL_LENGTH): the overhead is extrapolated from two probes (it grows with the content
 * when the encoding chunks it).
 */
async function largestSessionContent(ops: CoreOps): Promise<number> {
  const [small, large] = [1 << 20, 2 << 20];
  const overheadSmall = (await ops.serializeParcel('session', Buffer.alloc(small))).length - small;
  const overheadLarge = (await ops.serializeParcel('session', Buffer.alloc(large))).length - large;
  const perOctet = Math.max(0, (overheadLarge - overheadSmall) / (large - small));
  const fixed = overheadSmall - perOctet * small;
  return Math.floor((MAX_PARCEL_LENGTH - fixed - 64) / (1 + perOctet));
}

async function runChild(args: readonly string[], stdin: string, timeoutMs = 180_000): Promise<string> {
  const run = await runProcess(process.execPath, args, { input: stdin, killAfterMs: timeoutMs, cwd: process.cwd() });
  if (run.status !== 0) throw new Error(`child exited with ${run.signal ?? run.status}: ${run.stderr.trim()}`);
  return run.stdout;
}
