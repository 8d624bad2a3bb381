/**
 * Fuzzing of relayer-gateway's command line, in process and without starting anything (the property shared by
 * both gateway daemons: test-support/src/daemonCliFuzz.ts).
 *
 * FUZZ_RUNS=<n> per property (default 200); FUZZ_SEED=<n>|random (see test-support/src/fuzz.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CommanderError } from 'commander';

import { ConfigurationError } from '@twitter-relaynet/config';
import { describeDaemonCommandLineFuzz } from '@twitter-relaynet/test-support';
import { generateSelfSignedCertificate } from '@twitter-relaynet/pogrpc';

import { makeCommand } from './cli';
import { resolveConfig, type RelayerGatewayFlags } from './config';

/** Largest delay setTimeout honours (beyond it Node fires after 1 ms: a busy loop). */
const MAX_TIMER_MS = 2 ** 31 - 1;

const sink = { stdout: () => undefined, stderr: () => undefined };

describeDaemonCommandLineFuzz({
  name: 'relayer-gateway',
  flags: [
    '--data-root',
    '--data-dir',
    '--cosocket-socket',
    '--pogrpc-address',
    '--cogrpc-address',
    '--cogrpc-tls-cert',
    '--cogrpc-tls-key',
    '--cogrpc-plaintext',
    '--registration-dir',
    '--address-book',
    '--public-endpoint',
    '--public-endpoint-certificate',
    '--poll-interval',
    '--help',
    '-h',
  ],
  parse: (argv, environment) => {
    const command = makeCommand(sink);
    command.parse(['node', 'relayer-gateway', ...argv], { from: 'node' });
    return resolveConfig(command.opts<RelayerGatewayFlags>(), environment);
  },
  usageErrors: [CommanderError, ConfigurationError],
  addressKeys: ['pogrpcAddress'],
});

/** A poll interval above 2^31-1 ms would make Node fire the timer at once, in a busy loop. */
test('a poll interval beyond what a timer holds is a usage error', () => {
  expect(() => resolveConfig({ pollInterval: String(MAX_TIMER_MS + 1) }, {})).toThrow(ConfigurationError);
});

describe('CogRPC flags', () => {
  test('CogRPC is off unless an address is given; TLS flags without one are a usage error', () => {
    expect(resolveConfig({}, {}).cogrpc).toBeNull();
    expect(() => resolveConfig({ cogrpcTlsCert: '/c.pem', cogrpcTlsKey: '/k.pem' }, {})).toThrow(ConfigurationError);
    expect(() => resolveConfig({ cogrpcPlaintext: true }, {})).toThrow(ConfigurationError);
  });

  test('self-signed by default, given files, or plaintext; the variable stands in for the flag', () => {
    const env = { RELAYER_GATEWAY_COGRPC_ADDRESS: '0.0.0.0:21473' };
    expect(resolveConfig({}, env).cogrpc).toMatchObject({ address: '0.0.0.0:21473', tls: { kind: 'self-signed' } });
    expect(resolveConfig({ cogrpcTlsCert: '/c.pem', cogrpcTlsKey: '/k.pem' }, env).cogrpc?.tls).toEqual({
      kind: 'files',
      certPath: '/c.pem',
      keyPath: '/k.pem',
    });
    expect(resolveConfig({ cogrpcPlaintext: true }, env).cogrpc?.tls).toEqual({ kind: 'plaintext' });
  });

  test('a half-given key pair, plaintext with files, or a bad address are usage errors', () => {
    expect(() => resolveConfig({ cogrpcAddress: '127.0.0.1:0', cogrpcTlsCert: '/c.pem' }, {})).toThrow(/go together/);
    expect(() =>
      resolveConfig(
        { cogrpcAddress: '127.0.0.1:0', cogrpcTlsCert: '/c.pem', cogrpcTlsKey: '/k.pem', cogrpcPlaintext: true },
        {},
      ),
    ).toThrow(/excludes/);
    expect(() => resolveConfig({ cogrpcAddress: 'nowhere' }, {})).toThrow(/--cogrpc-address must be host:port/);
  });
});

describe('public endpoints', () => {
  const dir = mkdtempSync(join(tmpdir(), 'relayer-public-endpoints-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('from the variables (comma-separated), or from the flags, which then win; certificates read at start', () => {
    const pem = generateSelfSignedCertificate().certificatePem;
    writeFileSync(join(dir, 'a.pem'), pem);
    const env = {
      RELAYER_GATEWAY_PUBLIC_ENDPOINTS: 'A.example=10.0.0.1:1, b.example=10.0.0.2:2',
      RELAYER_GATEWAY_PUBLIC_ENDPOINT_CERTIFICATES: `a.example=${join(dir, 'a.pem')}`,
    };
    expect([...resolveConfig({}, env).publicEndpoints]).toEqual([
      ['a.example', { address: '10.0.0.1:1', tlsCertificatePem: pem }],
      ['b.example', { address: '10.0.0.2:2', tlsCertificatePem: null }],
    ]);
    expect([
      ...resolveConfig(
        { publicEndpoint: ['c.example=10.0.0.3:3'] },
        { RELAYER_GATEWAY_PUBLIC_ENDPOINTS: env.RELAYER_GATEWAY_PUBLIC_ENDPOINTS },
      ).publicEndpoints,
    ]).toEqual([['c.example', { address: '10.0.0.3:3', tlsCertificatePem: null }]]);
    expect(() => resolveConfig({ publicEndpoint: ['a.example=10.0.0.1:1', 'A.EXAMPLE=10.0.0.1:2'] }, {})).toThrow(
      /a\.example is given twice/,
    );
    expect(resolveConfig({}, {}).publicEndpoints.size).toBe(0);
  });
});
