/**
 * Registration through the courier alone, with the real executables: the user side (user gateway, app) and the
 * Internet side (relaying gateway, adapter) under two data roots that share nothing; only the flashdrive folder is
 * touched by both sides' `bin/relay` runs. A tweet queued before the registration arrives after it, also when a
 * process is killed -9 at a random point of the registration (COURIER_CRASH_TRIALS per process kind, default 1;
 * CRASH_SEED reproduces the points). The same request over CogRPC gets the same response; a tampered one is refused.
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { silentLogger } from '@twitter-relaynet/core';
import { CourierRegistrationClient, GatewayRegistrationRefusedError } from '@twitter-relaynet/cogrpc';
import {
  PoWebSocketGatewayTransport,
  PrivateEndpoint,
  readConnectionParameters,
  serializeDeliveryAuthorization,
} from '@twitter-relaynet/endpoint';

import { PlainReporter, registrationExchangeOf, runRegistrationLeg } from '@twitter-relaynet/relay';
import { type ProcessResult, runProcess } from '@twitter-relaynet/test-support';

import { buildExecutables, countOf, Daemon, REPO, seededRandom, sleep, waitFor, World } from './world';

const TRIALS = Number(process.env.COURIER_CRASH_TRIALS ?? 1);
const SEED = Number(process.env.CRASH_SEED ?? Date.now() % 100_000);
const random = seededRandom(SEED);

jest.setTimeout(60_000 + TRIALS * 3 * 30_000);

beforeAll(() => buildExecutables('packages/cogrpc'), 120_000);

/** Two computers and a flashdrive: the Internet side is a World without its user gateway. */
class TwoSides {
  readonly internet = new World();
  readonly userRoot = mkdtempSync(join(tmpdir(), 'user-side-'));
  readonly flashdrive = mkdtempSync(join(tmpdir(), 'flashdrive-'));
  readonly userGateway = new Daemon('user-gateway', ['--data-root', this.userRoot, '--poll-interval', '200']);
  private app: PrivateEndpoint | null = null;

  async start(cogrpc = false): Promise<void> {
    if (cogrpc) {
      this.internet.relayerFlags = ['--cogrpc-address', '127.0.0.1:0', '--cogrpc-plaintext'];
    }
    await this.internet.relayer.start();
    await this.internet.startAdapter();
    await this.userGateway.start();
  }

  /** The app on the user's computer, which knows the adapter's connection parameters (copied by the user). */
  async openApp(): Promise<(text: string) => Promise<void>> {
    const app = await PrivateEndpoint.open({
      dataDir: join(this.userRoot, 'apps', 'alice'),
      logger: silentLogger,
      transport: new PoWebSocketGatewayTransport({
        socketPath: join(this.userRoot, 'user-gateway', 'powebsocket.sock'),
        logger: silentLogger,
      }),
    });
    this.app = app;
    await app.register();
    const parameters = join(this.userRoot, 'adapter-connection-parameters.json');
    writeFileSync(parameters, readFileSync(this.internet.path('twitter-api-adapter', 'connection-parameters.json')));
    const peer = await app.addPublicPeer(await readConnectionParameters(parameters));
    const authorization = await app.issuePda(peer.identityCertificate, new Date(Date.now() + 7 * 24 * 3_600_000));
    await app.sendMessage(peer.internetAddress, {
      type: 'pda',
      content: serializeDeliveryAuthorization(authorization),
    });
    return async (text) => {
      await app.sendMessage(peer.internetAddress, { type: 'text', content: Buffer.from(text) });
    };
  }

  /** `bin/relay GATEWAY` on that side's computer: its own data root, the flashdrive. */
  relay(at: 'user-gateway' | 'relayer-gateway', options: { killAfterMs?: number } = {}): Promise<ProcessResult> {
    const root = at === 'user-gateway' ? this.userRoot : this.internet.root;
    return runProcess(
      join(REPO, 'bin', 'relay'),
      [at, '--data-root', root, '--flashdrive', this.flashdrive, '--wait', '0', '--no-progress'],
      { killAfterMs: options.killAfterMs },
    );
  }

  registered(): boolean {
    return existsSync(join(this.userRoot, 'user-gateway', 'identity-certificate.pem'));
  }

  files(...parts: string[]): string[] {
    const folder = join(this.flashdrive, ...parts);
    return existsSync(folder) ? readdirSync(folder).filter((f) => !f.startsWith('.')) : [];
  }

  async close(): Promise<void> {
    await this.app?.close().catch(() => undefined);
    await this.userGateway.stop('SIGKILL');
    await this.internet.close();
    if (!process.env.KEEP_TEST_DATA) {
      rmSync(this.userRoot, { recursive: true, force: true });
      rmSync(this.flashdrive, { recursive: true, force: true });
    }
  }
}

/** Trips until the adapter has `count` messages (or `trips` round trips were made). */
async function tripsUntilDelivered(sides: TwoSides, count: number, trips = 6): Promise<void> {
  for (let trip = 0; trip < trips && sides.internet.adapterInbox.messages.length < count; trip++) {
    await sides.relay('user-gateway');
    await sides.relay('relayer-gateway');
    for (let wait = 0; wait < 50 && sides.internet.adapterInbox.messages.length < count; wait++) await sleep(100);
  }
}

describe('two data roots, one flashdrive', () => {
  let sides: TwoSides;
  afterEach(async () => {
    await sides?.close();
  });

  test('a never-online user gateway registers through the courier; the tweet queued before it arrives', async () => {
    sides = new TwoSides();
    await sides.start();
    const send = await sides.openApp();
    await send('queued before registration');
    expect(sides.registered()).toBe(false);

    const first = await sides.relay('user-gateway');
    expect(first.stderr).toContain('registration request of the user gateway saved as');
    expect(sides.files('relayer-gw', 'registration')).toHaveLength(1);

    const second = await sides.relay('relayer-gateway');
    expect(second.stderr).toContain('answered; response saved as');
    expect(sides.files('relayer-gw', 'registration')).toEqual([]);
    expect(sides.files('user-gw', 'registration')).toHaveLength(1);
    expect(sides.internet.relayer.logs().some((l) => l.msg === 'Courier registration request answered')).toBe(true);

    const third = await sides.relay('user-gateway');
    expect(third.stderr).toContain('handed to the user gateway');
    expect(sides.registered()).toBe(true);
    expect(
      sides.userGateway.logs().some((l) => l.msg === 'Registered with the relaying gateway' && l.via === 'a courier'),
    ).toBe(true);
    expect(sides.files('user-gw', 'registration')).toEqual([]);
    // Registered, and the queued tweet made cargo on the same trip.
    expect(sides.files('relayer-gw').some((f) => f.endsWith('.cargo'))).toBe(true);

    await tripsUntilDelivered(sides, 1);
    expect(sides.internet.adapterInbox.contents()).toEqual(['queued before registration']);
    // Nothing was ever written to the shared registration folder of either side.
    expect(
      existsSync(sides.internet.path('registration', 'requests'))
        ? readdirSync(sides.internet.path('registration', 'requests'))
        : [],
    ).toEqual([]);
  });

  test('a tampered or replayed request is refused or answered alike; a tampered, replayed or foreign response is refused', async () => {
    sides = new TwoSides();
    await sides.start(true);
    await sides.relay('user-gateway');
    const [requestName] = sides.files('relayer-gw', 'registration');
    const requestPath = join(sides.flashdrive, 'relayer-gw', 'registration', requestName);
    const request = readFileSync(requestPath);

    // Over CogRPC (its own service beside CargoRelay): tampered → refused for good; replayed → the same response.
    const { address } = JSON.parse(readFileSync(sides.internet.path('relayer-gateway', 'cogrpc.json'), 'utf8')) as {
      address: string;
    };
    const client = new CourierRegistrationClient(address, { tls: { insecurePlaintextForTests: true } });
    try {
      const tampered = Buffer.from(request);
      tampered[Math.floor(tampered.length / 2)] ^= 0x01;
      await expect(client.register(tampered)).rejects.toThrow(GatewayRegistrationRefusedError);
      const response = await client.register(request);
      const again = await client.register(request);
      expect(again.equals(response)).toBe(true);
      const logs = sides.internet.relayer.logs();
      expect(logs.filter((l) => l.msg === 'Courier registration request answered')).toHaveLength(1);
      expect(logs.some((l) => l.msg.startsWith('Courier registration request replayed'))).toBe(true);
      expect(
        logs.some(
          (l) => l.msg === 'Courier registration request refused' && l.refusal === 'MalformedRegistrationRequestError',
        ),
      ).toBe(true);

      // A tampered response, then one for another user gateway: the user gateway refuses both, the relay sets them aside.
      const responses = join(sides.flashdrive, 'user-gw', 'registration');
      mkdirSync(responses, { recursive: true });
      const badResponse = Buffer.from(response);
      badResponse[Math.floor(badResponse.length / 2)] ^= 0x01;
      writeFileSync(join(responses, 'tampered.response'), badResponse);
      const other = new TwoSides();
      try {
        await other.userGateway.start();
        await other.relay('user-gateway');
        const [otherRequest] = other.files('relayer-gw', 'registration');
        const foreign = await client.register(
          readFileSync(join(other.flashdrive, 'relayer-gw', 'registration', otherRequest)),
        );
        writeFileSync(join(responses, 'foreign.response'), foreign);
      } finally {
        await other.close();
      }
      const refused = await sides.relay('user-gateway');
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain(
        'tampered.response: refused by the gateway: Registration response refused: unreadable or its signature does not verify',
      );
      expect(refused.stderr).toContain(
        "foreign.response: refused by the gateway: Registration response refused: it does not answer this gateway's pending request",
      );
      expect(sides.files('user-gw', 'registration', 'refused')).toHaveLength(2);
      expect(sides.registered()).toBe(false);

      // The genuine response registers it; the same response replayed afterwards changes nothing.
      writeFileSync(join(responses, 'genuine.response'), response);
      await sides.relay('user-gateway');
      expect(sides.registered()).toBe(true);
      const certificate = readFileSync(join(sides.userRoot, 'user-gateway', 'identity-certificate.pem'));
      writeFileSync(join(responses, 'replayed.response'), response);
      const replay = await sides.relay('user-gateway');
      expect(replay.stderr).toContain('replayed.response handed to the user gateway');
      expect(readFileSync(join(sides.userRoot, 'user-gateway', 'identity-certificate.pem')).equals(certificate)).toBe(
        true,
      );
      expect(
        sides.userGateway.logs().some((l) => l.msg === 'Courier registration response taken: already registered'),
      ).toBe(true);
    } finally {
      client.close();
    }
  });
});

test('the registration leg over CogRPC, as the CogRPC path of bin/relay runs it: answered, and a tampered request set aside', async () => {
  const sides = new TwoSides();
  try {
    await sides.start(true);
    await sides.relay('user-gateway');
    const requests = join(sides.flashdrive, 'relayer-gw', 'registration');
    const [name] = sides.files('relayer-gw', 'registration');
    const tampered = readFileSync(join(requests, name));
    tampered[Math.floor(tampered.length / 2)] ^= 0x01;
    writeFileSync(join(requests, 'tampered.request'), tampered);

    const { address } = JSON.parse(readFileSync(sides.internet.path('relayer-gateway', 'cogrpc.json'), 'utf8')) as {
      address: string;
    };
    const client = new CourierRegistrationClient(address, { tls: { insecurePlaintextForTests: true } });
    let output = '';
    try {
      const result = await runRegistrationLeg(
        {
          side: 'relayer-gateway',
          incoming: join(sides.flashdrive, 'relayer-gw'),
          outgoing: join(sides.flashdrive, 'user-gw'),
          exchange: registrationExchangeOf(client),
        },
        { reporter: new PlainReporter({ write: (text: string) => (output += text) }) },
      );
      expect(result).toEqual({ requestsTaken: 0, responsesSaved: 1, responsesHandedIn: 0, refused: 1, errors: 0 });
    } finally {
      client.close();
    }
    expect(output).toContain(
      'tampered.request: refused by the gateway: Registration request refused: unreadable or its signature does not verify',
    );
    expect(sides.files('relayer-gw', 'registration')).toEqual(['refused']);
    expect(sides.files('user-gw', 'registration')).toEqual([name.replace(/\.request$/, '.response')]);

    const handIn = await sides.relay('user-gateway');
    expect(handIn.status).toBe(0);
    expect(sides.registered()).toBe(true);
  } finally {
    await sides.close();
  }
});

test(`kill -9 at random points of the courier registration (${TRIALS} trials per process kind): the tweet queued before it arrives once`, async () => {
  const kinds = ['user-gateway', 'relayer-gateway', 'relay'] as const;
  const trials = kinds.flatMap((kind) => Array.from({ length: TRIALS }, () => kind));
  const events: string[] = [];
  let sent = 0;
  let lost = 0;
  let duplicated = 0;
  /** Per kind: trials, and kills that landed while the relay run was still under way. */
  const figures = Object.fromEntries(kinds.map((k) => [k, { trials: 0, midRun: 0 }])) as Record<
    (typeof kinds)[number],
    { trials: number; midRun: number }
  >;
  /** How long a relay run took last (ms): the kill lands within it. */
  let runTime = 400;
  for (const [index, kind] of trials.entries()) {
    const sides = new TwoSides();
    try {
      await sides.start();
      const send = await sides.openApp();
      const text = `queued before courier registration ${index}`;
      await send(text);
      sent++;
      // The registration takes three relay runs (user: request; relayer: response; user: hand-in): the kill
      // lands in one of them, at a random moment.
      const step = Math.floor(random() * 3);
      const delay = Math.floor(random() * runTime);
      for (let run = 0; run < 3; run++) {
        const at = run === 1 ? 'relayer-gateway' : 'user-gateway';
        if (run !== step) {
          const started = Date.now();
          await sides.relay(at);
          runTime = Math.max(100, Date.now() - started);
          continue;
        }
        figures[kind].trials++;
        if (kind === 'relay') {
          const killed = await sides.relay(at, { killAfterMs: delay });
          if (killed.status === null) figures[kind].midRun++;
        } else {
          const victim = kind === 'user-gateway' ? sides.userGateway : sides.internet.relayer;
          let finished = false;
          const running = sides.relay(at).finally(() => (finished = true));
          await sleep(delay);
          if (!finished) figures[kind].midRun++;
          await victim.stop('SIGKILL');
          await running;
          await victim.start();
        }
        events.push(`${index}: ${kind} killed ${delay} ms into relay run ${run} (${at})`);
      }
      await waitFor(
        'the registration',
        async () => {
          if (!sides.registered()) {
            await sides.relay('relayer-gateway');
            await sides.relay('user-gateway');
          }
          return sides.registered();
        },
        30_000,
        100,
      );
      await tripsUntilDelivered(sides, 1);
      const got = countOf(sides.internet.adapterInbox.contents());
      if (!got.has(text)) lost++;
      duplicated += Math.max(0, (got.get(text) ?? 0) - 1);
      if (!got.has(text) || (got.get(text) ?? 0) > 1) events.push(`${index}: delivered ${got.get(text) ?? 0} times`);
    } finally {
      await sides.close();
    }
  }
  if (process.env.FAULTS_REPORT) {
    appendFileSync(
      process.env.FAULTS_REPORT,
      `${JSON.stringify({ suite: 'courier-registration-crash', seed: SEED, trialsPerKind: TRIALS, kinds: figures, parcels: { sent, lost, duplicated } })}\n`,
    );
  }
  const context = `seed ${SEED}; ${events.join('; ')}`;
  expect({ context, lost, duplicated }).toEqual({ context, lost: 0, duplicated: 0 });
});
