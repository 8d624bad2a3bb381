/**
 * The bin-dev tools, run as child processes exactly as a developer runs them (through the
 * bin-dev/ wrappers, which need `npm run build` first; `npm test` builds).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import * as ref from '@relaycorp/relaynet-core';
import {
  Certificate,
  CargoCollectionAuthorization,
  CargoCollectionRequest,
  derSerializePrivateKey,
  encryptPayload,
  pemOrDerToDer,
  Parcel,
  derDeserializeRsaPrivateKey,
} from '@twitter-relaynet/core';

import { onTerminal, type ProcessResult, runProcess, stopAll } from '@twitter-relaynet/test-support';

const REPO = resolve(__dirname, '..', '..', '..');
const BIN_DEV = join(REPO, 'bin-dev');

function run(tool: string, args: string[], stdin?: Buffer): Promise<ProcessResult<Buffer>> {
  // Run from an unrelated directory (runProcess's default): the tools must work from anywhere.
  return runProcess(join(BIN_DEV, tool), args, { input: stdin ?? Buffer.alloc(0), stdoutAsBuffer: true });
}

let dir: string;
const file = (name: string) => join(dir, name);

beforeAll(() => {
  if (!existsSync(join(REPO, 'packages', 'dev-tools', 'dist', 'bin', 'inspect-message.js'))) {
    throw new Error('The dev tools are not built: run `npm run build` (npm test does it)');
  }
  dir = mkdtempSync(join(tmpdir(), 'dev-tools-'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function makeCert(
  kind: 'private' | 'public',
  name: string,
  extra: string[] = [],
): Promise<ProcessResult<Buffer>> {
  const result = await run(`generate-${kind}-node-cert`, [
    '--cert-out',
    file(`${name}.cert.pem`),
    '--key-out',
    file(`${name}.key.pem`),
    ...extra,
  ]);
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return result;
}

const readCert = (name: string) =>
  Certificate.deserialize(pemOrDerToDer(readFileSync(file(`${name}.cert.pem`)), 'CERTIFICATE'));
const readKey = (name: string) =>
  derDeserializeRsaPrivateKey(pemOrDerToDer(readFileSync(file(`${name}.key.pem`)), 'PRIVATE KEY'));

describe('help', () => {
  test.each([
    'generate-private-node-cert',
    'generate-public-node-cert',
    'generate-parcel',
    'generate-cargo',
    'inspect-message',
  ])('%s --help', async (tool) => {
    const result = await run(tool, ['--help']);
    expect(result.status).toBe(0);
    expect(result.stdout.toString()).toContain(`Usage: ${tool}`);
  });
});

describe('a whole chain made with the tools', () => {
  beforeAll(async () => {
    // Internet gateway (public, self-issued) → user gateway (private) → app endpoint; adapter
    // (public endpoint) with a session key and a PDA from the app.
    await makeCert('public', 'relayer-gw');
    await makeCert('private', 'user-gw', [
      '--issuer-cert',
      file('relayer-gw.cert.pem'),
      '--issuer-key',
      file('relayer-gw.key.pem'),
    ]);
    await makeCert('private', 'app', [
      '--type',
      'endpoint',
      '--issuer-cert',
      file('user-gw.cert.pem'),
      '--issuer-key',
      file('user-gw.key.pem'),
    ]);
    await makeCert('public', 'adapter', [
      '--type',
      'endpoint',
      '--format',
      'der',
      '--session-key-out',
      file('adapter-session.key'),
      '--session-public-key-out',
      file('adapter-session.pub'),
    ]);
  }, 60_000);

  test('certificates have the right issuers and the keys are private to the owner', async () => {
    expect(readCert('user-gw').isCA).toBe(true);
    expect(readCert('user-gw').pathLenConstraint).toBe(1);
    await expect(readCert('app').isIssuedBy(readCert('user-gw'))).resolves.toBe(true);
    expect(statSync(file('app.key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(file('adapter-session.key')).mode & 0o777).toBe(0o600);
    // DER output when asked for
    expect(readFileSync(file('adapter.cert.pem'))[0]).toBe(0x30);
  });

  test('the summary names the node id and session key id', async () => {
    const result = await makeCert('public', 'other', ['--session-key-out', file('other-session.key')]);
    const text = result.stdout.toString();
    expect(text).toContain(`id: ${readCert('other').calculateSubjectId()}`);
    expect(text).toMatch(/sessionKeyId: [0-9a-f]{16}/);
  });

  test('a PDA issued by the app', async () => {
    const result = await run('generate-private-node-cert', [
      '--type',
      'pda',
      '--issuer-cert',
      file('app.cert.pem'),
      '--issuer-key',
      file('app.key.pem'),
      '--cert-out',
      file('pda.cert.pem'),
      '--key-out',
      file('pda.key.pem'),
    ]);
    expect(result.status).toBe(0);
    expect(readCert('pda').isCA).toBe(false);
  });

  test('sessionless parcel: generate, then inspect, validate and decrypt it', async () => {
    const parcel = await run(
      'generate-parcel',
      [
        '--recipient-cert',
        file('adapter.cert.pem'),
        '--recipient-internet-address',
        'adapter.example.com',
        '--sender-cert',
        file('app.cert.pem'),
        '--sender-key',
        file('app.key.pem'),
        '--sender-chain',
        file('user-gw.cert.pem'),
        '--type',
        'text/plain',
        '--id',
        'tweet-1',
        '--ttl',
        '3600',
      ],
      Buffer.from('Hello from a flashdrive'),
    );
    expect(parcel.stderr).toBe('');
    expect(parcel.status).toBe(0);
    writeFileSync(file('parcel-1'), parcel.stdout);

    const inspected = await run(
      'inspect-message',
      ['--json', '--recipient-key', file('adapter.key.pem'), '--trusted-cert', file('relayer-gw.cert.pem')],
      parcel.stdout,
    );
    expect(inspected.stderr).toBe('');
    expect(inspected.status).toBe(0);
    const report = JSON.parse(inspected.stdout.toString());
    expect(report).toMatchObject({
      type: 'parcel (0x50)',
      id: 'tweet-1',
      ttl: 3600,
      recipientInternetAddress: 'adapter.example.com',
      senderId: readCert('app').calculateSubjectId(),
      timing: 'valid',
      encryption: { kind: 'sessionless' },
      payload: { serviceMessageType: 'text/plain', content: 'Hello from a flashdrive' },
    });
    expect(report.certificationPath).toHaveLength(3);
  });

  test('session parcel: encrypted for the published session key, decrypted with its private key', async () => {
    const keyId = 'a1b2c3d4e5f60718';
    const parcel = await run(
      'generate-parcel',
      [
        '--recipient-cert',
        file('adapter.cert.pem'),
        '--sender-cert',
        file('app.cert.pem'),
        '--sender-key',
        file('app.key.pem'),
        '--recipient-session-key',
        file('adapter-session.pub'),
        '--recipient-session-key-id',
        keyId,
      ],
      Buffer.from([0, 1, 2, 255]),
    );
    expect(parcel.status).toBe(0);
    const inspected = await run(
      'inspect-message',
      ['--json', '--recipient-key', file('adapter-session.key')],
      parcel.stdout,
    );
    expect(inspected.status).toBe(0);
    const report = JSON.parse(inspected.stdout.toString());
    expect(report.encryption).toMatchObject({ kind: 'session', recipientSessionKeyId: keyId });
    expect(report.payload.contentBase64).toBe(Buffer.from([0, 1, 2, 255]).toString('base64'));
  });

  test('cargo with several parcels, listed by inspect-message', async () => {
    const second = await run(
      'generate-parcel',
      [
        '--recipient-cert',
        file('adapter.cert.pem'),
        '--sender-cert',
        file('app.cert.pem'),
        '--sender-key',
        file('app.key.pem'),
        '--id',
        'tweet-2',
      ],
      Buffer.from('second'),
    );
    writeFileSync(file('parcel-2'), second.stdout);
    const cargo = await run('generate-cargo', [
      '--recipient-cert',
      file('relayer-gw.cert.pem'),
      '--sender-cert',
      file('user-gw.cert.pem'),
      '--sender-key',
      file('user-gw.key.pem'),
      file('parcel-1'),
      file('parcel-2'),
    ]);
    expect(cargo.stderr).toBe('');
    expect(cargo.status).toBe(0);
    const inspected = await run(
      'inspect-message',
      ['--recipient-key', file('relayer-gw.key.pem'), '--trusted-cert', file('relayer-gw.cert.pem')],
      cargo.stdout,
    );
    expect(inspected.status).toBe(0);
    const text = inspected.stdout.toString();
    expect(text).toContain('type: cargo (0x43)');
    expect(text).toContain('id: tweet-1');
    expect(text).toContain('id: tweet-2');
  });

  test('a wrong key, an untrusted sender or a tampered message make inspect-message fail', async () => {
    const parcel = readFileSync(file('parcel-1'));
    const wrongKey = await run('inspect-message', ['--recipient-key', file('app.key.pem')], parcel);
    expect(wrongKey.status).toBe(1);
    expect(wrongKey.stdout.toString()).toMatch(/payload:\n\s+error: /);

    const untrusted = await run('inspect-message', ['--trusted-cert', file('adapter.cert.pem')], parcel);
    expect(untrusted.status).toBe(1);
    expect(untrusted.stdout.toString()).toContain('AuthorizationError');

    const tampered = Buffer.from(parcel);
    tampered[tampered.length - 3] ^= 1;
    const result = await run('inspect-message', ['--json'], tampered);
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout.toString()).message.errorType).toBe('InvalidSignatureError');

    const garbage = await run('inspect-message', [], Buffer.from('not a message at all'));
    expect(garbage.status).toBe(1);
    expect(garbage.stdout.toString()).toContain('Format signature does not begin with "Awala"');
  });

  test('messages the reference implementation wrote', async () => {
    const toArrayBuffer = (b: Buffer) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    const refCert = (name: string) => ref.Certificate.deserialize(toArrayBuffer(readCert(name).serialize()));
    const refKey = (name: string) => ref.derDeserializeRSAPrivateKey(derSerializePrivateKey(readKey(name)));
    const plaintext = new ref.ServiceMessage('text/plain', Buffer.from('written by the reference')).serialize();
    const enveloped = await ref.SessionlessEnvelopedData.encrypt(plaintext, refCert('adapter'));
    const parcel = new ref.Parcel(
      { id: readCert('adapter').calculateSubjectId(), internetAddress: 'adapter.example.com' },
      refCert('app'),
      Buffer.from(enveloped.serialize()),
      { senderCaCertificateChain: [refCert('user-gw')] },
    );
    const serialized = Buffer.from(await parcel.serialize(await refKey('app')));
    const result = await run(
      'inspect-message',
      ['--json', '--recipient-key', file('adapter.key.pem'), '--trusted-cert', file('user-gw.cert.pem')],
      serialized,
    );
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout.toString()).payload.content).toBe('written by the reference');
  });

  test('a CCA made with the library shows its CDA', async () => {
    const cda = readCert('pda');
    const { envelopedData } = await encryptPayload(new CargoCollectionRequest(cda).serialize(), {
      certificate: readCert('relayer-gw'),
    });
    const cca = new CargoCollectionAuthorization(
      { id: readCert('relayer-gw').calculateSubjectId() },
      readCert('user-gw'),
      envelopedData,
    );
    const result = await run(
      'inspect-message',
      ['--json', '--recipient-key', file('relayer-gw.key.pem')],
      await cca.serialize(readKey('user-gw')),
    );
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout.toString()).payload.cargoDeliveryAuthorization.subjectId).toBe(
      cda.calculateSubjectId(),
    );
  });

  test('generate-parcel output is a parcel our library reads', async () => {
    const parcel = await Parcel.deserialize(readFileSync(file('parcel-2')));
    expect(parcel.id).toBe('tweet-2');
  });
});

describe('bad input gets a one-line reason and a non-zero status', () => {
  test.each([
    [
      ['generate-private-node-cert', '--cert-out', '/tmp/x', '--key-out', '/tmp/y', '--key-size', '1024'],
      /--key-size must be between 2048 and 4096/,
    ],
    [
      ['generate-private-node-cert', '--cert-out', '/tmp/x', '--key-out', '/tmp/y', '--key-size', '3000'],
      /--key-size must be 2048, 3072 or 4096/,
    ],
    [
      ['generate-private-node-cert', '--cert-out', '/tmp/x', '--key-out', '/tmp/y', '--type', 'pda'],
      /A PDA needs an issuer/,
    ],
    [
      ['generate-private-node-cert', '--cert-out', '/tmp/x', '--key-out', '/tmp/y', '--validity-days', '365'],
      /--validity-days must be between 1 and 180/,
    ],
    [
      ['generate-private-node-cert', '--cert-out', '/tmp/x', '--key-out', '/tmp/y', '--issuer-cert', '/nonexistent'],
      /--issuer-cert and --issuer-key go together/,
    ],
    [
      [
        'generate-parcel',
        '--recipient-cert',
        '/nonexistent',
        '--sender-cert',
        '/nonexistent',
        '--sender-key',
        '/nonexistent',
      ],
      /Cannot read recipient certificate "\/nonexistent" \(ENOENT\)/,
    ],
    [
      [
        'generate-cargo',
        '--recipient-cert',
        '/etc/hostname',
        '--sender-cert',
        '/etc/hostname',
        '--sender-key',
        '/etc/hostname',
        '/etc/hostname',
      ],
      /"\/etc\/hostname" is not a RAMF message/,
    ],
    [
      ['inspect-message', '--trusted-cert', '/etc/hostname'],
      /Trusted certificate "\/etc\/hostname" is not a valid X.509 certificate/,
    ],
  ])('%#: %p', async (argv, message) => {
    const [tool, ...args] = argv as string[];
    const result = await run(tool, args);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  test('mismatched issuer key and certificate', async () => {
    const result = await run('generate-private-node-cert', [
      '--cert-out',
      file('m.pem'),
      '--key-out',
      file('m.key'),
      '--issuer-cert',
      file('user-gw.cert.pem'),
      '--issuer-key',
      file('app.key.pem'),
    ]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--issuer-key does not belong to --issuer-cert');
  });

  test.each([
    [['inspect-message', '--bogus'], "inspect-message: unknown option '--bogus' (see inspect-message --help)\n"],
    [
      ['generate-cargo'],
      "generate-cargo: required option '--recipient-cert <file>' not specified (see generate-cargo --help)\n",
    ],
    [
      ['generate-private-node-cert', '--cert-out'],
      "generate-private-node-cert: option '--cert-out <file>' argument missing (see generate-private-node-cert --help)\n",
    ],
    [
      ['generate-parcel', '--recipient-cert'],
      "generate-parcel: option '--recipient-cert <file>' argument missing (see generate-parcel --help)\n",
    ],
  ])('a command-line error is a usage error (status 2) that names the tool: %p', async (argv, message) => {
    const [tool, ...args] = argv;
    const result = await run(tool, args);
    expect(result.stderr).toBe(message);
    expect(result.status).toBe(2);
  });

  afterEach(stopAll);

  test('inspect-message says what it waits for when its input is a terminal', async () => {
    const waiting = onTerminal([join(BIN_DEV, 'inspect-message')], process.env);
    await waiting.waitFor(/^inspect-message: reading a message from standard input; pipe or redirect it/m);
    waiting.interrupt();
    await waiting.done;
    // Not on a pipe: scripts read stderr too.
    const piped = await run('inspect-message', [], Buffer.from('not a message'));
    expect(piped.stderr).toBe('');
  });
});
