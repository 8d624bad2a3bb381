/** The emulator's HTTP server (node:http): the X API v2 subset under /2/, and the web page at /. */
import { chmodSync, mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { X_API_EMULATOR_CREDENTIALS, X_API_EMULATOR_HOST, X_API_EMULATOR_PORT } from '@twitter-relaynet/config';
import { RelaynetError } from '@twitter-relaynet/core';

import { type ApiResult, handleApiRequest, matchRoute, postTweet } from './api';
import { Authenticator, type EmulatorCredentials } from './auth';
import { parseFormEncoded } from './oauth1';
import { notFoundRoute, tooManyRequests, unauthorized } from './problems';
import { type EndpointName, RateLimiter } from './rateLimits';
import { DEFAULT_USER, type SeedAccount } from './seed';
import { Store, type Tweet, type User } from './store';
import { renderHomePage } from './web';

/** The web form's last chosen account. */
const AUTHOR_COOKIE = 'emulator-author';

/** The port the executable listens on unless told otherwise. */
export const DEFAULT_PORT = X_API_EMULATOR_PORT;
export const DEFAULT_HOST = X_API_EMULATOR_HOST;
/** The SQLite file name inside `dataDir`. */
export const DATABASE_FILE_NAME = 'x-api-emulator.sqlite';
const MAX_BODY_BYTES = 1024 * 1024;

/** Credentials of the seeded user, accepted unless others are configured: the ones the app and adapter default to. */
export const DEFAULT_CREDENTIALS: Required<EmulatorCredentials> = X_API_EMULATOR_CREDENTIALS;

export interface EmulatorOptions {
  /** TCP port; 0 picks a free one. Default DEFAULT_PORT (8085). */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Directory for the SQLite file (created if missing). Ignored when `database` is given. */
  readonly dataDir?: string;
  /** SQLite file path, or ":memory:". Default: DATABASE_FILE_NAME in `dataDir`, else ":memory:". */
  readonly database?: string;
  /** Credentials that authenticate as the user; unspecified fields take DEFAULT_CREDENTIALS' values. */
  readonly credentials?: Partial<EmulatorCredentials>;
  /** The user's account, used when seeding a new database. Default DEFAULT_USER. */
  readonly user?: SeedAccount;
  /** Requests per user per 15-minute window, per endpoint; unspecified ones take DEFAULT_RATE_LIMITS. */
  readonly rateLimits?: Partial<Record<EndpointName, number>>;
  /** Milliseconds since the epoch; drives tweet times, ids, rate-limit windows and the OAuth timestamp check. */
  readonly clock?: () => number;
  /** Accepted distance between `oauth_timestamp` and the clock, in seconds (default 300); null disables. */
  readonly oauthTimestampToleranceSeconds?: number | null;
  /** Receives one line per request (and why authentication failed). Default: silent. */
  readonly log?: (line: string) => void;
}

export interface RunningEmulator {
  /** Base URL, e.g. http://127.0.0.1:8085 (no trailing slash). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly credentials: Required<EmulatorCredentials>;
  /** The user the credentials authenticate as. */
  readonly user: User;
  /** Post a tweet as any account, as the web form does; throws EmulatorTweetError if the API would refuse it. */
  postTweetAs(username: string, text: string): Tweet;
  /** Change an endpoint's limit (e.g. to 1 in a test); the current window's count is kept. */
  setRateLimit(endpoint: EndpointName, limit: number): void;
  /** Start every rate-limit window afresh. */
  resetRateLimits(): void;
  close(): Promise<void>;
}

export class EmulatorTweetError extends RelaynetError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

function problemMessage(result: ApiResult): string {
  const body = result.body as { detail?: string; errors?: Array<{ message?: string }> };
  return body.errors?.[0]?.message ?? body.detail ?? `HTTP ${result.status}`;
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function isFormEncoded(req: IncomingMessage): boolean {
  return (req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded');
}

/**
 * Like every process's folder, the emulator's is the owner's alone (0700), even when an older version made it
 * 0755; the store opens its files owner-only (core's SQLite opener).
 */
function preparePrivateDatabase(dataDir: string): string {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  return join(dataDir, DATABASE_FILE_NAME);
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const clock = options.clock ?? Date.now;
  const log = options.log ?? (() => undefined);
  const credentials: Required<EmulatorCredentials> = { ...DEFAULT_CREDENTIALS, ...options.credentials };
  let databasePath = options.database;
  if (databasePath === undefined && options.dataDir !== undefined)
    databasePath = preparePrivateDatabase(options.dataDir);
  const store = new Store(databasePath ?? ':memory:', options.user ?? DEFAULT_USER, clock);
  const user = store.me()!;
  const rateLimiter = new RateLimiter(options.rateLimits ?? {}, clock);
  const authenticator = new Authenticator({
    credentials,
    now: clock,
    timestampToleranceSeconds:
      options.oauthTimestampToleranceSeconds === undefined ? 300 : options.oauthTimestampToleranceSeconds,
  });

  function send(res: ServerResponse, status: number, contentType: string, body: string, headers = {}): void {
    res.writeHead(status, { ...headers, 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  function sendApi(res: ServerResponse, result: ApiResult, headers: Record<string, string> = {}): void {
    const contentType = result.status >= 400 ? 'application/problem+json' : 'application/json; charset=utf-8';
    send(res, result.status, contentType, JSON.stringify(result.body), headers);
  }

  function postAs(username: string, text: string): Tweet {
    const author = store.userByUsername(username);
    if (!author) throw new EmulatorTweetError(`No account @${username}`, 404);
    const result = postTweet(store, author, text, clock());
    if (result.status !== 201) throw new EmulatorTweetError(problemMessage(result), result.status);
    return store.tweetById((result.body as { data: { id: string } }).data.id)!;
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, path: string, rawQuery: string): Promise<void> {
    const route = matchRoute(req.method ?? 'GET', path);
    if (!route) return sendApi(res, notFoundRoute());
    const body = await readBody(req);
    if (body === undefined) {
      return send(res, 413, 'application/problem+json', JSON.stringify({ title: 'Payload Too Large', status: 413 }));
    }
    const auth = authenticator.authenticate({
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers,
      formParams: isFormEncoded(req) ? parseFormEncoded(body.toString('utf8')) : undefined,
    });
    if (!auth.ok) {
      log(`401 ${req.method} ${req.url}: ${auth.reason}`);
      return sendApi(res, unauthorized());
    }
    const rate = rateLimiter.consume(route.endpoint, user.id);
    const rateHeaders = {
      'x-rate-limit-limit': String(rate.limit),
      'x-rate-limit-remaining': String(rate.remaining),
      'x-rate-limit-reset': String(rate.reset),
    };
    if (rate.exceeded) return sendApi(res, tooManyRequests(), rateHeaders);
    const result = handleApiRequest(
      {
        route,
        query: parseFormEncoded(rawQuery),
        contentType: req.headers['content-type'],
        body,
        me: user,
        now: clock(),
      },
      store,
    );
    sendApi(res, result, rateHeaders);
  }

  function authorCookie(req: IncomingMessage): string | undefined {
    for (const pair of (req.headers.cookie ?? '').split(';')) {
      const eq = pair.indexOf('=');
      if (eq !== -1 && pair.slice(0, eq).trim() === AUTHOR_COOKIE) {
        try {
          return decodeURIComponent(pair.slice(eq + 1).trim());
        } catch {
          return undefined; // not ours to fix: the form falls back to its first account
        }
      }
    }
    return undefined;
  }

  async function handleWeb(req: IncomingMessage, res: ServerResponse, path: string, rawQuery: string): Promise<void> {
    if (req.method === 'GET' && path === '/') {
      const query = new Map(parseFormEncoded(rawQuery));
      const html = renderHomePage(store, {
        error: query.get('error'),
        posted: query.get('posted'),
        author: authorCookie(req),
        text: query.has('error') ? query.get('text') : undefined,
      });
      return send(res, 200, 'text/html; charset=utf-8', html);
    }
    if (req.method === 'POST' && path === '/web/tweet') {
      const body = await readBody(req);
      const form = new Map(parseFormEncoded(body?.toString('utf8') ?? ''));
      let location: string;
      const username = form.get('author') ?? '';
      try {
        if (store.userByUsername(username)?.id === user.id) {
          throw new EmulatorTweetError('Post as yourself through the API; this form posts as other accounts', 400);
        }
        const tweet = postAs(username, form.get('text') ?? '');
        location = `/?posted=${tweet.id}`;
      } catch (error) {
        if (!(error instanceof EmulatorTweetError)) throw error;
        // The page shows the text again, to be corrected rather than typed anew.
        location = `/?error=${encodeURIComponent(error.message)}&text=${encodeURIComponent(form.get('text') ?? '')}`;
      }
      // The account chosen stays chosen for the next tweet (a cookie: the walk-through's URLs stay as they are).
      res.writeHead(303, {
        location,
        'content-length': 0,
        'set-cookie': `${AUTHOR_COOKIE}=${encodeURIComponent(username)}; Path=/; SameSite=Strict; HttpOnly`,
      });
      res.end();
      return;
    }
    send(res, 404, 'text/plain; charset=utf-8', 'Not found\n');
  }

  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const queryStart = url.indexOf('?');
    const path = queryStart === -1 ? url : url.slice(0, queryStart);
    const rawQuery = queryStart === -1 ? '' : url.slice(queryStart + 1);
    const handler = path.startsWith('/2/') ? handleApi : handleWeb;
    res.on('finish', () => log(`${res.statusCode} ${req.method} ${url}`));
    handler(req, res, path, rawQuery).catch((error: unknown) => {
      log(`500 ${req.method} ${url}: ${error instanceof Error ? error.stack : String(error)}`);
      if (!res.headersSent) {
        send(res, 500, 'application/problem+json', JSON.stringify({ title: 'Internal Server Error', status: 500 }));
      } else {
        res.destroy();
      }
    });
  });

  const host = options.host ?? DEFAULT_HOST;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_PORT, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  let closed: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}`,
    host,
    port,
    credentials,
    user,
    postTweetAs: postAs,
    setRateLimit: (endpoint, limit) => rateLimiter.setLimit(endpoint, limit),
    resetRateLimits: () => rateLimiter.reset(),
    close() {
      closed ??= new Promise<void>((resolve, reject) => {
        server.close((error) => {
          store.close();
          if (error) reject(error);
          else resolve();
        });
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
