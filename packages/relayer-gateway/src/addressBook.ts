/**
 * Resolves a public endpoint's Internet address to a PogRPC route, from configuration only (never from another
 * process's folder):
 * 1. `--public-endpoint ADDRESS=HOST:PORT` (with `--public-endpoint-certificate ADDRESS=FILE` to pin its TLS
 *    certificate), fixed for the daemon's life;
 * 2. the address book (`address-book.json`: `{"<internet address>": {"address": "host:port",
 *    "tlsCertificatePath": "/abs/cert.pem"}}`), read at every resolution so that edits apply at once;
 * 3. DNS: `<internet address>:443`.
 * Without a certificate to pin, the system CAs are used.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';

import { ConfigurationError } from '@twitter-relaynet/config';
import type { ClientTls } from '@twitter-relaynet/pogrpc';

import type { PublicEndpointRoute } from './config';

export interface Route {
  readonly target: string;
  readonly tls: ClientTls;
  readonly source: 'configuration' | 'address book' | 'dns';
}

interface BookEntry {
  readonly address: string;
  readonly tlsCertificatePath?: string;
}

const systemCas = (): ClientTls => ({ caPem: rootCertificates.join('\n') });

/** The address book's entries (none when the file does not exist); a ConfigurationError naming the file when malformed. */
export function readAddressBook(path: string): ReadonlyMap<string, BookEntry> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new ConfigurationError(`Cannot read the address book ${path}: ${(error as Error).message}`);
  }
  let book: unknown;
  try {
    book = JSON.parse(text);
  } catch {
    throw new ConfigurationError(`The address book ${path} is not valid JSON`);
  }
  if (!book || typeof book !== 'object' || Array.isArray(book)) {
    throw new ConfigurationError(
      `The address book ${path} must be an object: {"<internet address>": {"address": "host:port", ...}}`,
    );
  }
  const entries = new Map<string, BookEntry>();
  for (const [name, entry] of Object.entries(book as Record<string, unknown>)) {
    const { address, tlsCertificatePath } = (entry ?? {}) as { address?: unknown; tlsCertificatePath?: unknown };
    if (typeof address !== 'string' || (tlsCertificatePath !== undefined && typeof tlsCertificatePath !== 'string')) {
      throw new ConfigurationError(
        `The address book ${path}: the entry of ${name} needs "address" (host:port) and at most "tlsCertificatePath"`,
      );
    }
    entries.set(name.toLowerCase(), { address, tlsCertificatePath });
  }
  return entries;
}

export class AddressBook {
  constructor(
    private readonly options: {
      readonly addressBookPath: string;
      readonly publicEndpoints: ReadonlyMap<string, PublicEndpointRoute>;
    },
  ) {}

  resolve(internetAddress: string): Route {
    const configured = this.options.publicEndpoints.get(internetAddress.toLowerCase());
    if (configured) {
      const tls = configured.tlsCertificatePem ? { pinnedCertificatePem: configured.tlsCertificatePem } : systemCas();
      return { target: configured.address, tls, source: 'configuration' };
    }
    const entry = readAddressBook(this.options.addressBookPath).get(internetAddress.toLowerCase());
    if (entry) {
      const tls: ClientTls = entry.tlsCertificatePath
        ? { pinnedCertificatePem: readFileSync(entry.tlsCertificatePath, 'utf8') }
        : systemCas();
      return { target: entry.address, tls, source: 'address book' };
    }
    return { target: `${internetAddress}:443`, tls: systemCas(), source: 'dns' };
  }
}
