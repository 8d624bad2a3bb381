/**
 * Point `twitter-api-v2` at another X API v2 (the emulator, or any http(s) base URL) without changing how it is used.
 *
 * The library has the X API host built in and always calls `https.request`. A plugin's `onBeforeRequestConfig` hook
 * rewrites the request URL before the library builds and signs the request (so the OAuth 1.0a signature covers the
 * emulator's URL), and an `http.Agent` makes `https.request` speak plain HTTP. `setPrefix` alone is not enough:
 * some calls, such as `homeTimeline()`'s look-up of `users/me`, use the built-in host.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';

import type { ITwitterApiClientPlugin } from 'twitter-api-v2';

/** A plugin that sends every request to `baseUrl` (scheme, host, port and optional path prefix), keeping the path. */
export function redirectPlugin(baseUrl: string): ITwitterApiClientPlugin {
  const base = new URL(baseUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  return {
    onBeforeRequestConfig({ params }) {
      const original = new URL(params.url.startsWith('http') ? params.url : `https://${params.url}`);
      params.url = `${base.protocol}//${base.host}${prefix}${original.pathname}${original.search}`;
    },
    onBeforeStreamRequestConfig({ params }) {
      const original = new URL(params.url.startsWith('http') ? params.url : `https://${params.url}`);
      params.url = `${base.protocol}//${base.host}${prefix}${original.pathname}${original.search}`;
    },
  };
}

/** The agent that `twitter-api-v2` must be given for `baseUrl`: plain HTTP for http:// URLs. */
export function redirectHttpAgent(baseUrl: string): HttpAgent {
  return new URL(baseUrl).protocol === 'http:' ? new HttpAgent() : new HttpsAgent();
}
