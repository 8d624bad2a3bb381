import { main } from './cli';
import { parseFingerprint, parseGatewayAddress } from './cogrpcGateway';

test('--gateway: HOST:PORT, [IPv6]:PORT, https:// (port 443 by default); http:// only in plaintext', () => {
  expect(parseGatewayAddress('gateway.example:21473', false)).toEqual({
    host: 'gateway.example',
    port: 21473,
    target: 'gateway.example:21473',
  });
  expect(parseGatewayAddress('[::1]:8443', false)).toEqual({ host: '::1', port: 8443, target: '[::1]:8443' });
  expect(parseGatewayAddress('https://gateway.example/', false).target).toBe('gateway.example:443');
  expect(parseGatewayAddress('HTTPS://10.0.0.2:9000', false).target).toBe('10.0.0.2:9000');
  expect(parseGatewayAddress('http://10.0.0.2', true).target).toBe('10.0.0.2:80');
  expect(() => parseGatewayAddress('http://10.0.0.2:80', false)).toThrow('add --gateway-plaintext if you mean it');
  expect(() => parseGatewayAddress('https://10.0.0.2:80', true)).toThrow('--gateway-plaintext asks for no TLS');
  for (const bad of ['gateway.example', 'ftp://g:1', 'g:0', 'g:65536', 'g:port', 'https://g:1/path']) {
    expect(() => parseGatewayAddress(bad, false)).toThrow(/^--gateway /);
  }
});

test('--gateway-fingerprint: 64 hex digits, colons and case free', () => {
  const hex = 'ab'.repeat(32);
  expect(parseFingerprint(hex.toUpperCase().match(/../g)!.join(':'))).toBe(hex);
  expect(() => parseFingerprint('ab'.repeat(31))).toThrow('64 hex digits');
  expect(() => parseFingerprint(`${'ab'.repeat(31)}zz`)).toThrow('64 hex digits');
});

test.each([
  [['--gateway', 'g:1', '--cosocket', 's'], '--gateway (CogRPC) and --cosocket are two ways to the gateway: give one'],
  [['user-gateway', '--gateway', 'g:1'], '--gateway (CogRPC) reaches a relaying gateway: use it with relayer-gateway'],
  [
    ['--gateway', 'g:1', '--gateway-fingerprint', 'ab'.repeat(32), '--gateway-certificate', 'c.pem'],
    'give --gateway-certificate or --gateway-fingerprint, not both',
  ],
  [
    ['--gateway', 'g:1', '--gateway-plaintext', '--gateway-fingerprint', 'ab'.repeat(32)],
    '--gateway-plaintext has no certificate to check',
  ],
  [
    ['--cosocket', 's', '--gateway-plaintext'],
    '--gateway-certificate, --gateway-fingerprint and --gateway-plaintext go with --gateway',
  ],
  [
    ['--gateway', 'g:1', '--gateway-fingerprint', 'nope'],
    '--gateway-fingerprint must be the SHA-256 of the certificate',
  ],
  [
    ['--gateway', 'g:1', '--gateway-certificate', '/nonexistent/cert.pem'],
    'cannot read --gateway-certificate /nonexistent/cert.pem',
  ],
  [
    ['--gateway', 'g:1', '--gateway-certificate', __filename],
    `--gateway-certificate ${__filename} is not a PEM certificate`,
  ],
])('usage error, exit 2, nothing touched: %j', async (flags, message) => {
  let stderr = '';
  const io = { stdout: { write: () => true }, stderr: { write: (text: string) => (stderr += text) } };
  const status = await main(
    ['node', 'relay', ...flags, '--incoming', '/nonexistent/in', '--outgoing', '/nonexistent/out'],
    io,
  );
  expect(stderr).toContain(`relay: ${message}`);
  expect(status).toBe(2);
});

test('--help documents --gateway, its trust flags and the exit status of a distrusted server', async () => {
  let stdout = '';
  const io = { stdout: { write: (text: string) => (stdout += text) }, stderr: { write: () => true } };
  expect(await main(['node', 'relay', '--help'], io)).toBe(0);
  for (const flag of [
    '--gateway <address>',
    '--gateway-certificate <file>',
    '--gateway-fingerprint <sha256>',
    '--gateway-plaintext',
  ]) {
    expect(stdout).toContain(flag);
  }
  expect(stdout).toContain(
    'A server presenting another certificate is refused (exit 1) before anything on the flashdrive changes',
  );
  expect(stdout).toMatch(/1 {2}failure:[^]*a gateway whose TLS certificate is not the one expected/);
});
