/* eslint-disable @typescript-eslint/no-explicit-any -- twitter-api-v2's error classes are built here from partial request/response fakes */
import { ApiRequestError, ApiResponseError } from 'twitter-api-v2';

import { comparableText } from './adapter';
import { classifyApiError, DEFAULT_RATE_LIMIT_WAIT_MS, MIN_RATE_LIMIT_WAIT_MS } from './xApi';

const NOW = new Date('2026-01-01T00:00:00Z');

function response(code: number, data: object, reset?: number): ApiResponseError {
  return new ApiResponseError(`Request failed with code ${code}`, {
    code,
    request: {} as any,
    response: {} as any,
    headers: {},
    data: data as any,
    rateLimit: reset === undefined ? undefined : { limit: 1, remaining: 0, reset },
  });
}

describe('classifyApiError', () => {
  test.each([401, 403, 400, 404])('%i: refused for good, with the reason X gave', (status) => {
    expect(classifyApiError(response(status, { title: 'Forbidden', detail: 'Not allowed' }), NOW)).toEqual({
      kind: 'refused',
      status,
      reason: 'Forbidden: Not allowed',
    });
  });

  test('a detail that repeats the title is said once (X answers 401 with "Unauthorized" twice)', () => {
    expect(classifyApiError(response(401, { title: 'Unauthorized', detail: 'Unauthorized' }), NOW)).toEqual({
      kind: 'refused',
      status: 401,
      reason: 'Unauthorized',
    });
  });

  test.each([500, 502, 503, 408])('%i: transient', (status) => {
    expect(classifyApiError(response(status, {}), NOW)).toMatchObject({ kind: 'transient', status });
  });

  test("429: rate limited until X's reset", () => {
    const reset = NOW.getTime() / 1000 + 600;
    expect(classifyApiError(response(429, { title: 'Too Many Requests' }, reset), NOW)).toEqual({
      kind: 'rateLimited',
      status: 429,
      reason: 'Too Many Requests',
      resetAt: new Date(reset * 1000),
    });
  });

  test('429 without a reset: the default wait; with a reset already past by our clock: the minimum wait', () => {
    const without = classifyApiError(response(429, {}), NOW);
    expect(without.kind === 'rateLimited' && without.resetAt.getTime() - NOW.getTime()).toBe(
      DEFAULT_RATE_LIMIT_WAIT_MS,
    );
    const past = classifyApiError(response(429, {}, NOW.getTime() / 1000 - 5), NOW);
    expect(past.kind === 'rateLimited' && past.resetAt.getTime() - NOW.getTime()).toBe(MIN_RATE_LIMIT_WAIT_MS);
  });

  test('network errors and anything unexpected: transient, status 0', () => {
    const network = new ApiRequestError('Request failed', {
      request: {} as any,
      error: new Error('connect ECONNREFUSED'),
    });
    expect(classifyApiError(network, NOW)).toEqual({
      kind: 'transient',
      status: 0,
      reason: 'Network error: connect ECONNREFUSED',
    });
    expect(classifyApiError(new Error('odd'), NOW)).toEqual({ kind: 'transient', status: 0, reason: 'odd' });
  });
});

describe('comparableText', () => {
  test('undoes the HTML escaping of X v2 texts, NFC-normalizes and trims', () => {
    expect(comparableText(' Fish &amp; chips &lt;3 &gt; ')).toBe(comparableText('Fish & chips <3 >'));
    expect(comparableText('Cafe\u0301')).toBe(comparableText('Café'));
    expect(comparableText('a &amp;lt; b')).toBe('a &lt; b');
  });
});
