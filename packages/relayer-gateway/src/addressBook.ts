/**
 * Resolves a public endpoint's Internet address to a PogRPC route:
 * 1. the address book (`address-book.json`: `{"<internet address>": {"address": "host:port",
 *    "tlsCertificatePath": "/abs/cert.pem"}}`; without a certificate path the system CAs are used);
 * 2. the adapter's published parameters (`twitter-api-adapter/pogrpc.json`:
 *    `{"internetAddress", "address", "tlsCertificatePem"}`), its certificate pinned;
 * 3. DNS: `<internet address>:443`, checked against the system CAs.
 * The files are read at every resolution, so edits and adapter restarts (new port) apply at once.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';

import type { ClientTls } from '@twitter-relaynet/pogrpc';

export interface Route {
  readonly target: string;
  readonly tls: ClientTls;
  readonly source: 'address book' | 'adapter' | 'dns';
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return JSON.parse(text);
}

const systemCas = (): ClientTls => ({ caPem: rootCertificates.join('\n') });

export class AddressBook {
  constructor(private readonly options: { readonly addressBookPath: string; readonly adapterPogrpcPath: string }) {}

  resolve(internetAddress: string): Route {
    const book = readJson(this.options.addressBookPath) as
      | Record<string, { address?: string; tlsCertificatePath?: string }>
      | undefined;
    const entry = book && typeof book === 'object' ? book[internetAddress] : undefined;
    if (entry && typeof entry.address === 'string') {
      const tls: ClientTls = entry.tlsCertificatePath
        ? { pinnedCertificatePem: readFileSync(entry.tlsCertificatePath, 'utf8') }
        : systemCas();
      return { target: entry.address, tls, source: 'address book' };
    }
    const adapter = readJson(this.options.adapterPogrpcPath) as
      | { internetAddress?: string; address?: string; tlsCertificatePem?: string }
      | undefined;
    if (
      adapter &&
      adapter.internetAddress === internetAddress &&
      typeof adapter.address === 'string' &&
      typeof adapter.tlsCertificatePem === 'string'
    ) {
      return { target: adapter.address, tls: { pinnedCertificatePem: adapter.tlsCertificatePem }, source: 'adapter' };
    }
    return { target: `${internetAddress}:443`, tls: systemCas(), source: 'dns' };
  }
}
