import { randomBytes } from 'node:crypto';

import { expectedSignature } from '../src/oauth1';
import type { EmulatorCredentials } from '../src/auth';

export interface RawResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

/** A request signed with OAuth 1.0a by the emulator's own signer, for checks the library cannot express. */
export async function signedFetch(
  baseUrl: string,
  credentials: EmulatorCredentials,
  method: string,
  pathAndQuery: string,
  init: { body?: string; contentType?: string; nonce?: string; timestamp?: number } = {},
): Promise<RawResponse> {
  const url = new URL(pathAndQuery, baseUrl);
  const oauthParams = new Map([
    ['oauth_consumer_key', credentials.appKey],
    ['oauth_nonce', init.nonce ?? randomBytes(16).toString('hex')],
    ['oauth_signature_method', 'HMAC-SHA1'],
    ['oauth_timestamp', String(init.timestamp ?? Math.floor(Date.now() / 1000))],
    ['oauth_token', credentials.accessToken],
    ['oauth_version', '1.0'],
  ]);
  const signature = expectedSignature(
    { method, scheme: 'http', host: url.host, url: url.pathname + url.search, oauthParams },
    credentials.appSecret,
    credentials.accessSecret,
  );
  oauthParams.set('oauth_signature', signature);
  const authorization = 'OAuth ' + [...oauthParams].map(([k, v]) => `${k}="${encodeURIComponent(v)}"`).join(', ');
  const headers: Record<string, string> = { authorization };
  if (init.contentType) headers['content-type'] = init.contentType;
  const response = await fetch(url, { method, headers, body: init.body });
  return { status: response.status, headers: response.headers, text: await response.text() };
}
