import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLogger } from '@twitter-relaynet/core';

import { createMemoryStores, PrivateEndpoint, PublicEndpoint } from '../src';
import type { PrivateEndpointOptions, PublicEndpointOptions } from '../src';
import { MemoryGatewayTransport } from '@twitter-relaynet/test-support/endpoint';

export const ADAPTER_ADDRESS = 'twitter.relaynet.test';

export function tempDir(prefix = 'endpoint-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export function text(type: string, content: string) {
  return { type, content: Buffer.from(content) };
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A registered private endpoint (in memory, behind the in-memory gateway double) and a public endpoint
 * (in memory) that knows nothing yet; handy to make parcels both ways.
 */
export async function makePair(
  options: {
    publicOptions?: Partial<PublicEndpointOptions>;
    privateOptions?: Partial<PrivateEndpointOptions>;
    withSessionKey?: boolean;
  } = {},
) {
  const gateway = await MemoryGatewayTransport.create();
  const privateLogger = new MemoryLogger();
  const publicLogger = new MemoryLogger();
  const received: import('../src').IncomingMessage[] = [];
  const publicEndpoint = await PublicEndpoint.open({
    stores: createMemoryStores(),
    internetAddress: ADAPTER_ADDRESS,
    logger: publicLogger,
    onMessage: async (message) => {
      received.push(message);
    },
    ...options.publicOptions,
  });
  const privateEndpoint = await PrivateEndpoint.open({
    stores: createMemoryStores(),
    transport: gateway,
    logger: privateLogger,
    ...options.privateOptions,
  });
  await privateEndpoint.register();
  const parameters = await publicEndpoint.getConnectionParameters();
  await privateEndpoint.addPublicPeer(
    options.withSessionKey === false ? { ...parameters, sessionKey: undefined } : parameters,
  );
  return { gateway, publicEndpoint, privateEndpoint, received, privateLogger, publicLogger, parameters };
}
