import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * A peer's TLS certificate given in configuration (a PEM file), checked when the daemon starts so that a wrong
 * path or a wrong file is a usage error rather than deliveries failing later. Throws an Error saying what is wrong.
 */
export function readCertificateFile(path: string): string {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  try {
    new X509Certificate(pem);
  } catch {
    throw new Error(`${path} is not a PEM certificate`);
  }
  return pem;
}
