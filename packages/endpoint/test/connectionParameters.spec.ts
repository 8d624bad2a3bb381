import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import {
  ConnectionParametersError,
  createMemoryStores,
  parseConnectionParameters,
  PublicEndpoint,
  readConnectionParameters,
  serializeConnectionParameters,
  type ConnectionParameters,
} from '../src';
import { ADAPTER_ADDRESS, tempDir } from './helpers';

describe('Connection parameters', () => {
  let endpoint: PublicEndpoint;
  let parameters: ConnectionParameters;

  beforeAll(async () => {
    endpoint = await PublicEndpoint.open({
      stores: createMemoryStores(),
      internetAddress: ADAPTER_ADDRESS,
      onMessage: async () => undefined,
    });
    parameters = await endpoint.getConnectionParameters();
  });

  afterAll(() => endpoint.close());

  test('round-trip through JSON', () => {
    const json = serializeConnectionParameters(parameters);
    const document = JSON.parse(json);
    expect(document).toMatchObject({
      format: 'relaynet-connection-parameters',
      version: 1,
      internetAddress: ADAPTER_ADDRESS,
      id: endpoint.id,
    });
    const parsed = parseConnectionParameters(json);
    expect(parsed.internetAddress).toBe(ADAPTER_ADDRESS);
    expect(parsed.identityCertificate.isEqual(endpoint.certificate)).toBe(true);
    expect(parsed.sessionKey!.keyId).toEqual(parameters.sessionKey!.keyId);
    expect(parsed.sessionKey!.creationDate).toEqual(parameters.sessionKey!.creationDate);
    expect(parsed.sessionKey!.publicKey.export({ format: 'der', type: 'spki' })).toEqual(
      parameters.sessionKey!.publicKey.export({ format: 'der', type: 'spki' }),
    );
    expect(
      parseConnectionParameters(serializeConnectionParameters({ ...parameters, sessionKey: undefined })).sessionKey,
    ).toBeUndefined();
  });

  test('the endpoint publishes them atomically to a world-readable file, and keeps the key until rotation', async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'adapter.connection.json');
      const published = await endpoint.publishConnectionParameters(path);
      expect(statSync(path).mode & 0o777).toBe(0o644);
      const read = await readConnectionParameters(path);
      expect(read.sessionKey!.keyId).toEqual(published.sessionKey!.keyId);
      expect(published.sessionKey!.keyId).toEqual(parameters.sessionKey!.keyId);
      expect(readFileSync(path, 'utf8')).not.toMatch(/PRIVATE/);
    } finally {
      dir.cleanup();
    }
  });

  test.each([
    ['not JSON', '{'],
    ['wrong format', JSON.stringify({ format: 'other', version: 1 })],
    ['bad address', (doc: Record<string, unknown>) => ({ ...doc, internetAddress: 'not a domain' })],
    ['bad certificate', (doc: Record<string, unknown>) => ({ ...doc, identityCertificate: 'AAAA' })],
    ['id mismatch', (doc: Record<string, unknown>) => ({ ...doc, id: '0' + 'a'.repeat(64) })],
    [
      'bad session key',
      (doc: Record<string, unknown>) => ({
        ...doc,
        sessionKey: { id: 'AQ==', publicKey: 'AAAA', creationDate: '2026-01-01T00:00:00Z' },
      }),
    ],
    [
      'bad key date',
      (doc: Record<string, unknown>) => ({
        ...doc,
        sessionKey: { ...(doc.sessionKey as object), creationDate: 'yesterday' },
      }),
    ],
  ])('refuses %s', (_name, mutation) => {
    const input =
      typeof mutation === 'string'
        ? mutation
        : JSON.stringify(mutation(JSON.parse(serializeConnectionParameters(parameters))));
    expect(() => parseConnectionParameters(input)).toThrow(ConnectionParametersError);
  });
});
