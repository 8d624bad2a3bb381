import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { readRelayingGatewayRoute } from './daemon';

describe('readRelayingGatewayRoute', () => {
  const dir = mkdtempSync(join(tmpdir(), 'adapter-route-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'pogrpc.json');

  test('null while the relaying gateway has published nothing', () => {
    expect(readRelayingGatewayRoute(join(dir, 'absent.json'))).toBeNull();
  });

  test('the published address, its certificate pinned; read afresh each time', () => {
    writeFileSync(path, JSON.stringify({ address: '127.0.0.1:1', tlsCertificatePem: 'PEM 1' }));
    expect(readRelayingGatewayRoute(path)).toEqual({ target: '127.0.0.1:1', tls: { pinnedCertificatePem: 'PEM 1' } });
    writeFileSync(path, JSON.stringify({ address: '127.0.0.1:2', tlsCertificatePem: 'PEM 2' }));
    expect(readRelayingGatewayRoute(path)).toEqual({ target: '127.0.0.1:2', tls: { pinnedCertificatePem: 'PEM 2' } });
  });

  test.each([
    ['not JSON', '{', /not valid JSON/],
    ['no certificate', JSON.stringify({ address: '127.0.0.1:1' }), /lacks/],
    ['null', 'null', /lacks/],
  ])('an unusable file is an error naming it: %s', (_what, contents, message) => {
    writeFileSync(path, contents);
    expect(() => readRelayingGatewayRoute(path)).toThrow(message);
    expect(() => readRelayingGatewayRoute(path)).toThrow(path);
  });
});
