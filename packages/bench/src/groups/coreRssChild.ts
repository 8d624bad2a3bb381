/**
 * Child process of the core group: one large parcel round trip (session payload: serialize, then
 * deserialize, validate and unwrap), then its peak RSS. Nothing else runs in this process, and
 * nothing is subtracted from the figure.
 *
 * On Linux the peak is VmHWM from /proc/self/status: `process.resourceUsage().maxRSS`
 * (getrusage's ru_maxrss) survives fork and execve, so in a child it is at least the parent's RSS
 * at spawn time (the bench parent's ~100 MiB), whatever the child does. Elsewhere maxRSS is used.
 *
 *   node coreRssChild.js <ours|relaynet-core> <content length>   (fixture JSON on stdin)
 *
 * Prints one JSON line: { peakRssBytes, peakRssSource, maxRssBytes, messageLength, contentLength, ms }.
 * The reference library is loaded only for `relaynet-core`.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import { fixtureFromJson, type CoreFixtureJson } from './coreFixture';
import type * as OursModule from './coreOurs';
import type * as ReferenceModule from './coreReference';
import type { CoreOps } from './coreShared';

export interface RssChildResult {
  /** This process's own peak RSS (VmHWM on Linux, else ru_maxrss). */
  readonly peakRssBytes: number;
  readonly peakRssSource: 'VmHWM' | 'maxRSS';
  /** process.resourceUsage().maxRSS, which on Linux includes the parent's RSS at spawn time. */
  readonly maxRssBytes: number;
  readonly messageLength: number;
  readonly contentLength: number;
  readonly ms: number;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<void> {
  const [impl, lengthArg] = process.argv.slice(2);
  const contentLength = Number(lengthArg);
  if ((impl !== 'ours' && impl !== 'relaynet-core') || !Number.isSafeInteger(contentLength) || contentLength <= 0) {
    throw new Error('usage: coreRssChild.js <ours|relaynet-core> <content length>');
  }
  const fixture = fixtureFromJson(JSON.parse(await readStdin()) as CoreFixtureJson);
  // require, not import: the child loads one implementation only, so that its RSS is that implementation's.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const ops: CoreOps =
    impl === 'ours'
      ? (require('./coreOurs') as typeof OursModule).makeOurOps(fixture)
      : await (require('./coreReference') as typeof ReferenceModule).makeReferenceOps(fixture);
  /* eslint-enable @typescript-eslint/no-require-imports */

  const start = performance.now();
  // The sender holds its content until the parcel is serialized; then only its digest is kept.
  const { serialized, digest } = await send(ops, contentLength);
  const received = await ops.unwrapParcel('session', serialized);
  const ms = performance.now() - start;
  if (!createHash('sha256').update(received).digest().equals(digest)) {
    throw new Error('The content did not survive the round trip');
  }
  const result: RssChildResult = {
    ...peakRss(),
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    messageLength: serialized.length,
    contentLength,
    ms,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** Shared with the idle-process measurement (as source text): keep it self-contained. */
export function peakRss(): { peakRssBytes: number; peakRssSource: 'VmHWM' | 'maxRSS' } {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- self-contained: this function is also run as source text
    const status = require('node:fs').readFileSync('/proc/self/status', 'utf8') as string;
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    if (match) return { peakRssBytes: Number(match[1]) * 1024, peakRssSource: 'VmHWM' };
  } catch {
    // Not Linux.
  }
  return { peakRssBytes: process.resourceUsage().maxRSS * 1024, peakRssSource: 'maxRSS' };
}

async function send(ops: CoreOps, contentLength: number): Promise<{ serialized: Buffer; digest: Buffer }> {
  const content = randomFillSync(Buffer.allocUnsafe(contentLength));
  const digest = createHash('sha256').update(content).digest();
  return { serialized: await ops.serializeParcel('session', content), digest };
}

if (require.main === module)
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
