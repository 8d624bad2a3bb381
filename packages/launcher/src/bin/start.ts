/**
 * `npm start`: the user gateway, the relaying gateway, the Twitter API adapter and (unless real X
 * credentials and base URL are configured) the local X API emulator, in the foreground, each
 * output line prefixed with its name. Ctrl-C stops them all; if one dies, the others are stopped
 * and the exit status is non-zero, with the name of the one that died.
 */
import { join } from 'node:path';

import { resolveDataRoot } from '@twitter-relaynet/config';
import { type LogFormat, logFormatFor } from '@twitter-relaynet/core';

import { usesRealXApi } from '../env';
import { REPO_ROOT } from '../layout';
import { describeTaken, findTaken, type Probe } from '../running';
import { Supervisor } from '../supervisor';
import {
  certificateSha256,
  cogrpcAddressFrom,
  DEFAULT_COGRPC_ADDRESS,
  emulatorBaseUrl,
  emulatorPortFrom,
  type RelayerGatewayServers,
  type Side,
  SIDES,
  systemProcesses,
} from '../system';

const USAGE = `Usage: npm start [-- --data-root DIR] [-- --log-format human|json] [-- --side all|user|internet]

Runs user-gateway, relayer-gateway, twitter-api-adapter and, unless TWITTER_API_BASE_URL points at
the real X API (environment or .env), the local X API emulator. Each output line is prefixed with
the name of its process. Ctrl-C stops them all.

  --log-format human   show the daemons' logs as lines to read: time, process, message, parcel and
                       cargo ids (the default on a terminal)
  --log-format json    show them as they are, one JSON object per line (the default for files and
                       pipes); RELAYNET_LOG_FORMAT=human|json chooses too, the flag wins
  --side user          run only what the user's computer runs: the user gateway
  --side internet      run only what the Internet server runs: the relaying gateway, the adapter and the
                       emulator (see "Running on three computers" in the README)
  --side all           everything on this computer (the default)

The relaying gateway serves CogRPC for couriers on ${DEFAULT_COGRPC_ADDRESS} (TLS, self-signed; its address and
certificate fingerprint are printed once it is up). The daemons are wired together by npm start: it gives the
adapter the relaying gateway's PogRPC address and certificate (--relaying-gateway), and the relaying gateway an
address book with the adapter's (<data root>/launcher/).

Environment: RELAYNET_DATA_ROOT (--data-root; default $XDG_DATA_HOME/twitter-relaynet, else
~/.local/share/twitter-relaynet), X_API_EMULATOR_PORT (default 8085), RELAYER_GATEWAY_COGRPC_ADDRESS
(default ${DEFAULT_COGRPC_ADDRESS}; set it empty for no CogRPC), and every daemon's own variables (see
bin/<daemon> --help).

Exit status: 0 when stopped with Ctrl-C (SIGINT) or SIGTERM; 1 when a process exited by itself
(its name is printed and the others are stopped); 2 on a usage error; 3 when the system seems to
be running already (the emulator's or the CogRPC port, or the user gateway's socket is in use: nothing
is started).
`;

/** The system seems to be running already (exit status documented in USAGE). */
const EXIT_RUNNING = 3;

interface Args {
  dataRoot?: string;
  logFormat?: LogFormat;
  side?: Side;
}

function parseArgs(argv: readonly string[]): Args {
  const result: Args = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else if (arg === '--data-root' && argv[i + 1]) {
      result.dataRoot = argv[++i];
    } else if (arg.startsWith('--data-root=') && arg.length > '--data-root='.length) {
      result.dataRoot = arg.slice('--data-root='.length);
    } else if (arg === '--log-format' || arg.startsWith('--log-format=')) {
      const value = arg === '--log-format' ? argv[++i] : arg.slice('--log-format='.length);
      if (value !== 'human' && value !== 'json') {
        process.stderr.write(`start: --log-format must be human or json (got "${value ?? ''}")\n`);
        process.exit(2);
      }
      result.logFormat = value;
    } else if (arg === '--side' || arg.startsWith('--side=')) {
      const value = arg === '--side' ? argv[++i] : arg.slice('--side='.length);
      if (!SIDES.includes(value as Side)) {
        process.stderr.write(`start: --side must be ${SIDES.join(', ')} (got "${value ?? ''}")\n`);
        process.exit(2);
      }
      result.side = value as Side;
    } else {
      process.stderr.write(`start: unknown or incomplete argument "${arg}" (see npm start -- --help)\n`);
      process.exit(2);
    }
  }
  return result;
}

/**
 * What a running system has: the emulator's port, and the user gateway's socket in this data root (a probe of
 * the relaying gateway's CoSocket socket would show in its log as a connection that ended without a Quit).
 */
function probes(side: Side, dataRoot: string, emulatorPort: number | null, cogrpcAddress: string | null): Probe[] {
  const userGateway: Probe = {
    kind: 'unix',
    path: join(dataRoot, 'user-gateway', 'powebsocket.sock'),
    owner: 'the user gateway',
  };
  if (side === 'user') return [userGateway];
  const cogrpc = cogrpcAddress === null ? null : /^\[?([^\]]*)\]?:(\d+)$/.exec(cogrpcAddress);
  return [
    ...(emulatorPort === null
      ? []
      : [{ kind: 'tcp', host: '127.0.0.1', port: emulatorPort, owner: 'the X API emulator' } as const]),
    // Port 0 (any free port) cannot be taken; a malformed address is the relaying gateway's to report.
    ...(cogrpc && Number(cogrpc[2]) > 0
      ? [
          {
            kind: 'tcp',
            host: cogrpc[1],
            port: Number(cogrpc[2]),
            owner: "the relaying gateway's CogRPC server",
          } as const,
        ]
      : []),
    ...(side === 'all' ? [userGateway] : []),
  ];
}

function describeServers({ cogrpc }: RelayerGatewayServers): string {
  if (!cogrpc) return 'CogRPC for couriers: off (RELAYER_GATEWAY_COGRPC_ADDRESS is empty)\n';
  const tls = cogrpc.tlsCertificatePem
    ? `TLS certificate SHA-256 ${certificateSha256(cogrpc.tlsCertificatePem)}`
    : 'plaintext, no TLS';
  return `CogRPC for couriers: ${cogrpc.address} (${tls})\n`;
}

async function main(): Promise<void> {
  const { dataRoot: dataRootFlag, logFormat: logFormatFlag, side = 'all' } = parseArgs(process.argv.slice(2));
  const dataRoot = resolveDataRoot(dataRootFlag, process.env);
  let emulatorPort: number;
  try {
    emulatorPort = emulatorPortFrom(process.env);
  } catch (error) {
    process.stderr.write(`start: ${(error as Error).message}\n`);
    process.exit(2);
  }
  const realApi = usesRealXApi(join(REPO_ROOT, '.env'));
  const specs = systemProcesses({
    dataRoot,
    side,
    realApi,
    emulatorPort,
    onRelayerGateway: (servers) => process.stdout.write(describeServers(servers)),
  });
  const taken = await findTaken(probes(side, dataRoot, realApi ? null : emulatorPort, cogrpcAddressFrom(process.env)));
  if (taken.length > 0) {
    process.stderr.write(describeTaken(taken));
    process.exit(EXIT_RUNNING);
  }

  process.stdout.write(
    `Data root: ${dataRoot}\n` +
      (side === 'user'
        ? ''
        : realApi
          ? 'X API: the real one (TWITTER_API_BASE_URL)\n'
          : `X API: the local emulator, ${emulatorBaseUrl(emulatorPort)}/ (open it in a browser)\n`) +
      (side === 'internet'
        ? `The app's connection parameters (copy them to the user's computer, e.g. on the flashdrive): ${join(dataRoot, 'twitter-api-adapter', 'connection-parameters.json')}\n`
        : '') +
      `Starting ${specs.map((spec) => spec.name).join(', ')}. Ctrl-C stops them all.\n`,
  );
  const supervisor = new Supervisor(specs, { logFormat: logFormatFlag ?? logFormatFor(process.stdout) });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => supervisor.stop());
  }
  void supervisor.start().then((result) => {
    if (result.firstExit) {
      const { name, code, signal, error } = result.firstExit;
      const what = error
        ? `could not be started: ${error}`
        : `exited (${signal ? `signal ${signal}` : `code ${code}`})`;
      process.stderr.write(`start: ${name} ${what}, so everything was stopped\n`);
    } else {
      process.stdout.write('All stopped.\n');
    }
    process.exitCode = result.exitCode;
  });
}

void main();
