import { writeFileAtomically } from '@twitter-relaynet/core';

/** The host of a `host:port` listening address (`[::1]` stays bracketed). */
export function listeningHost(address: string): string {
  return address.replace(/:\d+$/, '');
}

/** The names a self-signed TLS certificate for a server listening at `address` must hold. */
export function tlsHostnames(address: string, extra: readonly string[] = []): string[] {
  return [...new Set(['localhost', '127.0.0.1', ...extra, listeningHost(address).replace(/^\[|\]$/g, '')])];
}

/** Where a server can be reached, for whoever configures its peers: a JSON file, replaced atomically (0644). */
export async function publishServer(path: string, document: object): Promise<void> {
  await writeFileAtomically(path, JSON.stringify(document, null, 2) + '\n', 0o644);
}
