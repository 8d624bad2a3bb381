/**
 * OAuth 1.0a (RFC 5849) request signing and verification with HMAC-SHA1.
 *
 * Written against the RFC rather than any client library, so that a client-side signing bug shows up here.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

import { RelaynetError } from '@twitter-relaynet/core';

/** RFC 5849 section 3.6: UTF-8, then every octet except ALPHA / DIGIT / "-" / "." / "_" / "~" as %XX (upper case). */
export function percentEncode(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const isUnreserved =
      (byte >= 0x30 && byte <= 0x39) || // 0-9
      (byte >= 0x41 && byte <= 0x5a) || // A-Z
      (byte >= 0x61 && byte <= 0x7a) || // a-z
      byte === 0x2d || // -
      byte === 0x2e || // .
      byte === 0x5f || // _
      byte === 0x7e; // ~
    out += isUnreserved ? String.fromCharCode(byte) : '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Decode one `application/x-www-form-urlencoded` component ("+" is a space). Malformed escapes are kept as is. */
export function formDecode(value: string): string {
  const withSpaces = value.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(withSpaces);
  } catch {
    return withSpaces;
  }
}

export type ParamList = Array<[string, string]>;

/** Parse a raw query string or form body into decoded name/value pairs, keeping order and repeats. */
export function parseFormEncoded(raw: string): ParamList {
  const params: ParamList = [];
  if (!raw) return params;
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = eq === -1 ? pair : pair.slice(0, eq);
    const value = eq === -1 ? '' : pair.slice(eq + 1);
    params.push([formDecode(name), formDecode(value)]);
  }
  return params;
}

export class OAuthHeaderError extends RelaynetError {}

/**
 * Parse an `Authorization: OAuth ...` header (RFC 5849 section 3.5.1) into decoded parameters.
 * Returns null when the scheme is not OAuth; throws OAuthHeaderError when it is but the syntax is wrong.
 */
export function parseAuthorizationHeader(header: string): Map<string, string> | null {
  const match = /^\s*OAuth(?:\s+(.*))?$/is.exec(header);
  if (!match) return null;
  const params = new Map<string, string>();
  const rest = (match[1] ?? '').trim();
  if (rest === '') return params;
  const paramRegex = /\s*([^\s=,]+)\s*=\s*"([^"]*)"\s*(?:,|$)/y;
  let index = 0;
  while (index < rest.length) {
    paramRegex.lastIndex = index;
    const param = paramRegex.exec(rest);
    if (!param) throw new OAuthHeaderError(`Malformed OAuth header near: ${rest.slice(index, index + 20)}`);
    const name = decodeStrict(param[1]);
    if (params.has(name)) throw new OAuthHeaderError(`Repeated OAuth parameter ${name}`);
    params.set(name, decodeStrict(param[2]));
    index = paramRegex.lastIndex;
  }
  return params;
}

function decodeStrict(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new OAuthHeaderError(`Bad percent-encoding in ${value}`);
  }
}

/**
 * RFC 5849 section 3.4.1.2: lower-case scheme and host, default port (80 for http, 443 for https) omitted,
 * path as sent, no query.
 */
export function baseStringUri(scheme: string, hostHeader: string, path: string): string {
  const lowerScheme = scheme.toLowerCase();
  let host = hostHeader.toLowerCase();
  const portMatch = /^(.*):(\d+)$/.exec(host);
  if (portMatch && !host.endsWith(']')) {
    const port = Number(portMatch[2]);
    if ((lowerScheme === 'http' && port === 80) || (lowerScheme === 'https' && port === 443)) host = portMatch[1];
  }
  const queryStart = path.indexOf('?');
  const pathOnly = queryStart === -1 ? path : path.slice(0, queryStart);
  return `${lowerScheme}://${host}${pathOnly === '' ? '/' : pathOnly}`;
}

/** RFC 5849 section 3.4.1.3.2: encode names and values, sort by name then value, join. */
export function normalizeParameters(params: ParamList): string {
  return params
    .map(([name, value]) => [percentEncode(name), percentEncode(value)] as const)
    .sort(([n1, v1], [n2, v2]) => (n1 < n2 ? -1 : n1 > n2 ? 1 : v1 < v2 ? -1 : v1 > v2 ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

/** RFC 5849 section 3.4.1: method, base string URI and normalized parameters, each percent-encoded, joined by "&". */
export function signatureBaseString(method: string, baseUri: string, params: ParamList): string {
  return [method.toUpperCase(), percentEncode(baseUri), percentEncode(normalizeParameters(params))].join('&');
}

/** RFC 5849 section 3.4.2: HMAC-SHA1 keyed with encoded consumer secret "&" encoded token secret, base64. */
export function hmacSha1Signature(baseString: string, consumerSecret: string, tokenSecret = ''): string {
  const key = `${percentEncode(consumerSecret)}&${percentEncode(tokenSecret)}`;
  return createHmac('sha1', key).update(baseString, 'utf8').digest('base64');
}

export interface SignedRequest {
  readonly method: string;
  /** `http` or `https`. */
  readonly scheme: string;
  /** The Host header as received (port included when the client sent it). */
  readonly host: string;
  /** The raw request target: path and query exactly as on the wire. */
  readonly url: string;
  /** Form parameters of an `application/x-www-form-urlencoded` body; empty for any other body. */
  readonly formParams?: ParamList;
  /** The oauth_* parameters from the Authorization header, including oauth_signature. */
  readonly oauthParams: Map<string, string>;
}

/** Every parameter that RFC 5849 section 3.4.1.3.1 puts in the base string (oauth_signature and realm excluded). */
export function collectSignatureParams(request: Omit<SignedRequest, 'method' | 'scheme' | 'host'>): ParamList {
  const queryStart = request.url.indexOf('?');
  const params: ParamList = queryStart === -1 ? [] : parseFormEncoded(request.url.slice(queryStart + 1));
  for (const [name, value] of request.oauthParams) {
    if (name !== 'oauth_signature' && name !== 'realm') params.push([name, value]);
  }
  params.push(...(request.formParams ?? []));
  return params;
}

/** Compute the signature the request should carry, given the secrets. */
export function expectedSignature(request: SignedRequest, consumerSecret: string, tokenSecret: string): string {
  const baseString = signatureBaseString(
    request.method,
    baseStringUri(request.scheme, request.host, request.url),
    collectSignatureParams(request),
  );
  return hmacSha1Signature(baseString, consumerSecret, tokenSecret);
}

/** Constant-time comparison of a received signature with the expected one. */
export function signaturesMatch(received: string, expected: string): boolean {
  const a = Buffer.from(received, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
