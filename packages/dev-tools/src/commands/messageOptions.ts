import type { Certificate } from '@twitter-relaynet/core';

import { readCertificate, readPrivateKey } from '../io';

/** What every message-making tool needs to know about the sender. */
export interface SenderOptions {
  senderCert: string;
  senderKey: string;
  senderChain: string[];
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function readSender(options: SenderOptions) {
  const certificate = readCertificate(options.senderCert, 'sender certificate');
  const privateKey = readPrivateKey(options.senderKey, 'sender key');
  const chain: Certificate[] = options.senderChain.map((path) => readCertificate(path, 'sender chain certificate'));
  return { certificate, privateKey, chain };
}
