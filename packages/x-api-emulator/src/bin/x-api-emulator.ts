#!/usr/bin/env node
/** Run the X API emulator: `x-api-emulator [--port 8085] [--host 127.0.0.1] [--data-dir DIR]`. */
import { parseArgs } from 'node:util';

import { dropOutputWhenReaderCloses } from '@twitter-relaynet/config';

import type { EndpointName } from '../rateLimits';
import { DEFAULT_RATE_LIMITS } from '../rateLimits';
import { DEFAULT_HOST, DEFAULT_PORT, startEmulator } from '../server';

const USAGE = `Usage: x-api-emulator [options]

  --port N                 TCP port (default ${DEFAULT_PORT}; 0 picks a free one)
  --host ADDR              address to listen on (default ${DEFAULT_HOST})
  --data-dir DIR           keep state in DIR/x-api-emulator.sqlite (default: in memory, lost on exit)
  --rate-limit 'E=N'       requests per 15 minutes for endpoint E, e.g. 'POST /2/tweets=5' (repeatable)
  --quiet                  do not log requests
  -h, --help

Credentials (defaults are the emulator's documented ones): --consumer-key, --consumer-secret,
--access-token, --access-token-secret, --oauth2-access-token, or the environment variables
TWITTER_CONSUMER_KEY, TWITTER_CONSUMER_SECRET, TWITTER_ACCESS_TOKEN_KEY, TWITTER_ACCESS_TOKEN_SECRET.
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      'rate-limit': { type: 'string', multiple: true },
      'consumer-key': { type: 'string' },
      'consumer-secret': { type: 'string' },
      'access-token': { type: 'string' },
      'access-token-secret': { type: 'string' },
      'oauth2-access-token': { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`Invalid --port ${values.port}`);

  const rateLimits: Partial<Record<EndpointName, number>> = {};
  for (const spec of values['rate-limit'] ?? []) {
    const eq = spec.lastIndexOf('=');
    const endpoint = spec.slice(0, eq).trim() as EndpointName;
    const limit = Number(spec.slice(eq + 1));
    if (eq === -1 || !(endpoint in DEFAULT_RATE_LIMITS) || !Number.isInteger(limit) || limit < 0) {
      throw new Error(`Invalid --rate-limit '${spec}'; endpoints: ${Object.keys(DEFAULT_RATE_LIMITS).join(', ')}`);
    }
    rateLimits[endpoint] = limit;
  }

  const env = process.env;
  const credentials = Object.fromEntries(
    Object.entries({
      appKey: values['consumer-key'] ?? env.TWITTER_CONSUMER_KEY,
      appSecret: values['consumer-secret'] ?? env.TWITTER_CONSUMER_SECRET,
      accessToken: values['access-token'] ?? env.TWITTER_ACCESS_TOKEN_KEY,
      accessSecret: values['access-token-secret'] ?? env.TWITTER_ACCESS_TOKEN_SECRET,
      oauth2AccessToken: values['oauth2-access-token'],
    }).filter(([, value]) => value !== undefined && value !== ''),
  );

  const emulator = await startEmulator({
    port,
    host: values.host ?? DEFAULT_HOST,
    dataDir: values['data-dir'],
    rateLimits,
    credentials,
    log: values.quiet ? undefined : (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
  });
  // Before the ready text: whoever reads it may stop the emulator at once.
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${signal} received, closing\n`);
    emulator.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const c = emulator.credentials;
  process.stdout.write(
    `X API emulator listening on ${emulator.url}\n` +
      `  web page:            ${emulator.url}/\n` +
      `  state:               ${values['data-dir'] ?? 'in memory'}\n` +
      `  user:                @${emulator.user.username} (id ${emulator.user.id})\n` +
      `  consumer key:        ${c.appKey}\n` +
      `  consumer secret:     ${c.appSecret}\n` +
      `  access token:        ${c.accessToken}\n` +
      `  access token secret: ${c.accessSecret}\n` +
      `  OAuth 2 user token:  ${c.oauth2AccessToken}\n`,
  );
}

dropOutputWhenReaderCloses();
main().catch((error: unknown) => {
  process.stderr.write(`x-api-emulator: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
