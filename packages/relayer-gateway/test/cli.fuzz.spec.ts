/**
 * Fuzzing of relayer-gateway's command line, in process and without starting anything (the property shared by
 * both gateway daemons: binding-conformance/src/daemonCliFuzz.ts).
 *
 * FUZZ_RUNS=<n> per property (default 200); FUZZ_SEED=<n>|random (see binding-conformance/src/fuzz.ts).
 */
import { CommanderError } from 'commander';

import { describeDaemonCommandLineFuzz } from '@twitter-relaynet/binding-conformance';

import { makeCommand } from '../src/cli';
import { ConfigError, resolveConfig, type RelayerGatewayFlags } from '../src/config';

/** Largest delay setTimeout honours (beyond it Node fires after 1 ms: a busy loop). */
const MAX_TIMER_MS = 2 ** 31 - 1;

const sink = { stdout: () => undefined, stderr: () => undefined };

describeDaemonCommandLineFuzz({
  name: 'relayer-gateway',
  flags: ['--data-root', '--data-dir', '--cosocket-socket', '--pogrpc-address', '--cogrpc-address', '--cogrpc-tls-cert', '--cogrpc-tls-key', '--cogrpc-plaintext', '--registration-dir', '--address-book', '--public-endpoint', '--public-endpoint-certificate', '--poll-interval', '--help', '-h'],
  parse: (argv, environment) => {
    const command = makeCommand(sink);
    command.parse(['node', 'relayer-gateway', ...argv], { from: 'node' });
    return resolveConfig(command.opts<RelayerGatewayFlags>(), environment);
  },
  usageErrors: [CommanderError, ConfigError],
  addressKeys: ['pogrpcAddress'],
});

/** A poll interval above 2^31-1 ms would make Node fire the timer at once, in a busy loop. */
test('a poll interval beyond what a timer holds is a usage error', () => {
  expect(() => resolveConfig({ pollInterval: String(MAX_TIMER_MS + 1) }, {})).toThrow(ConfigError);
});

describe('CogRPC flags', () => {
  test('CogRPC is off unless an address is given; TLS flags without one are a usage error', () => {
    expect(resolveConfig({}, {}).cogrpc).toBeNull();
    expect(() => resolveConfig({ cogrpcTlsCert: '/c.pem', cogrpcTlsKey: '/k.pem' }, {})).toThrow(ConfigError);
    expect(() => resolveConfig({ cogrpcPlaintext: true }, {})).toThrow(ConfigError);
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
      resolveConfig({ cogrpcAddress: '127.0.0.1:0', cogrpcTlsCert: '/c.pem', cogrpcTlsKey: '/k.pem', cogrpcPlaintext: true }, {}),
    ).toThrow(/excludes/);
    expect(() => resolveConfig({ cogrpcAddress: 'nowhere' }, {})).toThrow(/--cogrpc-address must be host:port/);
  });
});
