/**
 * bin/relayer-gateway's CogRPC server for couriers, driven by the reference client (@relaycorp/cogrpc 1.4.6) with
 * real cargo and CCAs from a user gateway registered with the daemon's relaying gateway.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CogRPCClient as ReferenceClient } from '@relaycorp/cogrpc';
import { certificateFingerprint, generateSelfSignedCertificate } from '@twitter-relaynet/cogrpc';
import { generateRsaKeyPair } from '@twitter-relaynet/core';
import { createMemoryStores, UserGateway } from '@twitter-relaynet/gateway';

import { main, type RelayerGatewayDaemon } from '@twitter-relaynet/relayer-gateway';
import { parcelFromApp } from './userGateway';

async function collectAll<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

async function startDaemon(
  extraArgs: readonly string[],
): Promise<{ dataRoot: string; daemon: RelayerGatewayDaemon; stdout: string }> {
  const dataRoot = mkdtempSync(join(tmpdir(), 'relayer-cogrpc-'));
  let stdout = '';
  const started = await main(
    [
      'node',
      'relayer-gateway',
      '--data-root',
      dataRoot,
      '--pogrpc-address',
      '127.0.0.1:0',
      '--cogrpc-address',
      '127.0.0.1:0',
      ...extraArgs,
    ],
    {},
    { stdout: (line) => (stdout += line), stderr: () => undefined },
  );
  if (typeof started === 'number') throw new Error(`relayer-gateway exited with ${started}`);
  return { dataRoot, daemon: started, stdout };
}

function readPublication(dataRoot: string): { address: string; tlsCertificatePem: string | null } {
  return JSON.parse(readFileSync(join(dataRoot, 'relayer-gateway', 'cogrpc.json'), 'utf8'));
}

describe('relayer-gateway --cogrpc-address', () => {
  let dataRoot: string;
  let daemon: RelayerGatewayDaemon;
  let stdout: string;
  let user: UserGateway;

  beforeAll(async () => {
    ({ dataRoot, daemon, stdout } = await startDaemon([]));
    const userKeys = await generateRsaKeyPair();
    user = new UserGateway({
      identity: {
        privateKey: userKeys.privateKey,
        certificate: await daemon.gateway.registerUserGateway(userKeys.publicKey),
      },
      relayingGateway: { certificate: daemon.gateway.certificate },
      stores: createMemoryStores(),
    });
  });

  afterAll(async () => {
    await daemon?.stop();
    rmSync(dataRoot, { recursive: true, force: true });
  });

  const publication = () => readPublication(dataRoot);

  test('publishes cogrpc.json, prints the fingerprint, keeps the self-signed key 0600', () => {
    const { address, tlsCertificatePem } = publication();
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(stdout).toContain(
      `CogRPC (couriers): ${address} (TLS certificate SHA-256 ${certificateFingerprint(tlsCertificatePem!)}`,
    );
    expect(statSync(join(dataRoot, 'relayer-gateway', 'cogrpc-tls', 'pogrpc-tls-key.pem')).mode & 0o777).toBe(0o600);
  });

  test('the reference client (initLan) delivers real cargo, then collects with a real CCA', async () => {
    const reference = await ReferenceClient.initLan(publication().address);
    try {
      await user.receiveParcelFromEndpoint(await parcelFromApp(user));
      const cargo: Buffer[] = [];
      for await (const item of user.generateCargoForRelayingGateway()) cargo.push(item.serialized);
      const acked = await collectAll(
        reference.deliverCargo(
          (async function* () {
            for (const [index, item] of cargo.entries()) yield { localId: String(index), cargo: item };
          })(),
        ),
      );
      expect(acked).toEqual(cargo.map((_, index) => String(index)));

      const cca = await user.generateCca();
      // The acknowledgement of the parcel delivered above comes back in cargo for the user gateway.
      const collected = await collectAll(reference.collectCargo(cca));
      expect(collected).toHaveLength(1);
      expect((await user.receiveCargo(collected[0])).pcasProcessed).toBe(1);

      await expect(collectAll(reference.collectCargo(cca))).rejects.toThrow(); // reused
      await expect(collectAll(reference.collectCargo(Buffer.from('not a CCA')))).rejects.toThrow();
      await collectAll(reference.collectCargo(await user.generateCca())); // still serving
    } finally {
      reference.close();
    }
  });
});

test('--cogrpc-plaintext: the reference initLocalhost client is served; cogrpc.json has no certificate', async () => {
  const { dataRoot, daemon, stdout } = await startDaemon(['--cogrpc-plaintext']);
  const { address, tlsCertificatePem } = readPublication(dataRoot);
  const reference = await ReferenceClient.initLocalhost(Number(address.split(':')[1]));
  try {
    expect(tlsCertificatePem).toBeNull();
    expect(stdout).toContain(`CogRPC (couriers): ${address} (PLAINTEXT, no TLS`);
    await expect(collectAll(reference.collectCargo(Buffer.from('not a CCA')))).rejects.toThrow();
    expect(await collectAll(reference.deliverCargo((async function* () {})()))).toEqual([]);
  } finally {
    reference.close();
    await daemon.stop();
    rmSync(dataRoot, { recursive: true, force: true });
  }
});

test('--cogrpc-tls-cert/--cogrpc-tls-key: the given identity is served and published', async () => {
  const identity = generateSelfSignedCertificate();
  const files = mkdtempSync(join(tmpdir(), 'relayer-cogrpc-tls-'));
  writeFileSync(join(files, 'cert.pem'), identity.certificatePem);
  writeFileSync(join(files, 'key.pem'), identity.keyPem, { mode: 0o600 });
  const { dataRoot, daemon } = await startDaemon([
    '--cogrpc-tls-cert',
    join(files, 'cert.pem'),
    '--cogrpc-tls-key',
    join(files, 'key.pem'),
  ]);
  const reference = await ReferenceClient.initLan(readPublication(dataRoot).address);
  try {
    expect(readPublication(dataRoot).tlsCertificatePem).toBe(identity.certificatePem);
    await expect(collectAll(reference.collectCargo(Buffer.from('not a CCA')))).rejects.toThrow();
  } finally {
    reference.close();
    await daemon.stop();
    rmSync(dataRoot, { recursive: true, force: true });
    rmSync(files, { recursive: true, force: true });
  }
});
