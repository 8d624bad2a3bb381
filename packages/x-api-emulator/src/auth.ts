/** Authentication of API requests: OAuth 1.0a user context (HMAC-SHA1), or an OAuth 2 user-context bearer token. */
import type { IncomingHttpHeaders } from 'node:http';

import {
  expectedSignature,
  OAuthHeaderError,
  parseAuthorizationHeader,
  type ParamList,
  signaturesMatch,
} from './oauth1';

/** The user's app and access credentials, named as `twitter-api-v2` names them (`new TwitterApi(credentials)`). */
export interface EmulatorCredentials {
  /** OAuth 1.0a consumer key ("API key"). */
  readonly appKey: string;
  /** OAuth 1.0a consumer secret ("API key secret"). */
  readonly appSecret: string;
  /** OAuth 1.0a access token of the user. */
  readonly accessToken: string;
  /** OAuth 1.0a access token secret of the user. */
  readonly accessSecret: string;
  /** An OAuth 2.0 user-context access token also accepted as `Authorization: Bearer ...` for the user. */
  readonly oauth2AccessToken?: string;
}

export interface AuthRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly formParams?: ParamList;
}

export type AuthResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export interface AuthenticatorOptions {
  readonly credentials: EmulatorCredentials;
  readonly now: () => number;
  /** How far `oauth_timestamp` may be from the emulator's clock, in seconds; null disables the check. */
  readonly timestampToleranceSeconds: number | null;
}

/** Checks requests against the configured credentials, rejecting replayed nonces. */
export class Authenticator {
  private readonly seenNonces = new Map<string, number>();

  constructor(private readonly options: AuthenticatorOptions) {}

  authenticate(request: AuthRequest): AuthResult {
    const header = request.headers.authorization;
    if (!header) return { ok: false, reason: 'no Authorization header' };
    const bearer = /^\s*Bearer\s+(\S+)\s*$/i.exec(header);
    if (bearer) {
      const expected = this.options.credentials.oauth2AccessToken;
      return expected !== undefined && signaturesMatch(bearer[1], expected)
        ? { ok: true }
        : { ok: false, reason: 'unknown bearer token' };
    }
    let oauthParams: Map<string, string> | null;
    try {
      oauthParams = parseAuthorizationHeader(header);
    } catch (error) {
      if (error instanceof OAuthHeaderError) return { ok: false, reason: error.message };
      throw error;
    }
    if (!oauthParams) return { ok: false, reason: 'unsupported Authorization scheme' };
    return this.checkOAuth1(request, oauthParams);
  }

  private checkOAuth1(request: AuthRequest, oauthParams: Map<string, string>): AuthResult {
    const { credentials } = this.options;
    for (const required of [
      'oauth_consumer_key',
      'oauth_token',
      'oauth_signature_method',
      'oauth_timestamp',
      'oauth_nonce',
      'oauth_signature',
    ]) {
      if (!oauthParams.has(required)) return { ok: false, reason: `missing ${required}` };
    }
    if (oauthParams.get('oauth_signature_method') !== 'HMAC-SHA1')
      return { ok: false, reason: 'unsupported signature method' };
    const version = oauthParams.get('oauth_version');
    if (version !== undefined && version !== '1.0') return { ok: false, reason: 'unsupported oauth_version' };
    if (oauthParams.get('oauth_consumer_key') !== credentials.appKey)
      return { ok: false, reason: 'unknown consumer key' };
    if (oauthParams.get('oauth_token') !== credentials.accessToken)
      return { ok: false, reason: 'unknown access token' };

    const signature = expectedSignature(
      {
        method: request.method,
        scheme: 'http',
        host: request.headers.host ?? '',
        url: request.url,
        formParams: request.formParams,
        oauthParams,
      },
      credentials.appSecret,
      credentials.accessSecret,
    );
    if (!signaturesMatch(oauthParams.get('oauth_signature')!, signature))
      return { ok: false, reason: 'signature mismatch' };

    const timestamp = oauthParams.get('oauth_timestamp')!;
    if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'malformed oauth_timestamp' };
    const nowSeconds = Math.floor(this.options.now() / 1000);
    const tolerance = this.options.timestampToleranceSeconds;
    if (tolerance !== null && Math.abs(nowSeconds - Number(timestamp)) > tolerance) {
      return { ok: false, reason: 'oauth_timestamp out of bounds' };
    }
    const nonceKey = `${credentials.accessToken} ${timestamp} ${oauthParams.get('oauth_nonce')}`;
    if (this.seenNonces.has(nonceKey)) return { ok: false, reason: 'replayed oauth_nonce' };
    this.rememberNonce(nonceKey, Number(timestamp), nowSeconds);
    return { ok: true };
  }

  private rememberNonce(key: string, timestamp: number, nowSeconds: number): void {
    this.seenNonces.set(key, timestamp);
    if (this.seenNonces.size < 10_000) return;
    const horizon = nowSeconds - (this.options.timestampToleranceSeconds ?? 3600);
    for (const [k, t] of this.seenNonces) if (t < horizon) this.seenNonces.delete(k);
    // Without a timestamp window, keep memory bounded by dropping the oldest entries.
    while (this.seenNonces.size >= 10_000) this.seenNonces.delete(this.seenNonces.keys().next().value!);
  }
}
