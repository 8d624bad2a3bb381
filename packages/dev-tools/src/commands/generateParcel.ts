import { randomUUID } from 'node:crypto';

import { Command } from 'commander';

import { UsageError } from '@twitter-relaynet/config';
import {
  derDeserializeEcdhPublicKey,
  encryptPayload,
  getIdFromIdentityKey,
  isValidDomainName,
  MAX_MESSAGE_ID_LENGTH,
  MAX_SDU_PLAINTEXT_LENGTH,
  MAX_TTL_SECONDS,
  Parcel,
  ServiceMessage,
  type PayloadRecipient,
} from '@twitter-relaynet/core';

import { parseInteger, readCertificate, readSpki, readStdin, writeStdout } from '../io';
import { collect, readSender, type SenderOptions } from './messageOptions';

interface Options extends SenderOptions {
  recipientCert: string;
  recipientInternetAddress?: string;
  type: string;
  id?: string;
  ttl: string;
  recipientSessionKey?: string;
  recipientSessionKeyId?: string;
}

export function makeGenerateParcelCommand(): Command {
  return new Command('generate-parcel')
    .description(
      'Make a parcel: the service message (payload) is read from standard input, the parcel is ' +
        'written to standard output. Sessionless (RSA-OAEP) unless a recipient session key is given.',
    )
    .requiredOption('--recipient-cert <file>', "recipient's certificate (PEM or DER)")
    .requiredOption('--sender-cert <file>', "sender's certificate (PEM or DER)")
    .requiredOption('--sender-key <file>', "sender's private key (PKCS#8, PEM or DER)")
    .option('--sender-chain <file>', 'a CA certificate to attach (repeatable)', collect, [])
    .option('--recipient-internet-address <domain>', 'Internet address of a public recipient')
    .option('--type <media-type>', 'media type of the service message', 'application/octet-stream')
    .option('--id <id>', 'parcel id (default: a random UUID)')
    .option('--ttl <seconds>', `time to live, 0..${MAX_TTL_SECONDS}`, '86400')
    .option('--recipient-session-key <file>', "recipient's ECDH session public key (SPKI, PEM or DER)")
    .option('--recipient-session-key-id <hex>', 'id of that session key')
    .action(async (options: Options) => {
      const parcel = await generateParcel(options, await readStdin(MAX_SDU_PLAINTEXT_LENGTH));
      await writeStdout(parcel);
    });
}

async function generateParcel(options: Options, content: Buffer): Promise<Buffer> {
  const ttl = parseInteger(options.ttl, '--ttl', 0, MAX_TTL_SECONDS);
  const id = options.id ?? randomUUID();
  if (id.length > MAX_MESSAGE_ID_LENGTH) {
    throw new UsageError(`--id must not exceed ${MAX_MESSAGE_ID_LENGTH} characters`);
  }
  const address = options.recipientInternetAddress;
  if (address !== undefined && !isValidDomainName(address)) {
    throw new UsageError(`--recipient-internet-address "${address}" is not a domain name`);
  }
  if (Boolean(options.recipientSessionKey) !== Boolean(options.recipientSessionKeyId)) {
    throw new UsageError('--recipient-session-key and --recipient-session-key-id go together');
  }

  const recipientCertificate = readCertificate(options.recipientCert, 'recipient certificate');
  const sender = readSender(options);
  let serviceMessage: ServiceMessage;
  try {
    serviceMessage = new ServiceMessage(options.type, content);
  } catch (error) {
    throw new UsageError(`--type: ${(error as Error).message}`);
  }

  let payloadRecipient: PayloadRecipient = { certificate: recipientCertificate };
  if (options.recipientSessionKey && options.recipientSessionKeyId) {
    if (!/^([0-9a-f]{2})+$/i.test(options.recipientSessionKeyId)) {
      throw new UsageError('--recipient-session-key-id must be hexadecimal');
    }
    let publicKey;
    try {
      publicKey = derDeserializeEcdhPublicKey(readSpki(options.recipientSessionKey, 'recipient session key'));
    } catch (error) {
      if (error instanceof UsageError) throw error;
      throw new UsageError(`--recipient-session-key is not an ECDH public key: ${(error as Error).message}`);
    }
    payloadRecipient = {
      sessionKey: { keyId: Buffer.from(options.recipientSessionKeyId, 'hex'), publicKey },
    };
  }
  const { envelopedData } = await encryptPayload(serviceMessage.serialize(), payloadRecipient);
  const parcel = new Parcel(
    { id: getIdFromIdentityKey(recipientCertificate.publicKey), internetAddress: address },
    sender.certificate,
    envelopedData,
    { id, ttl, senderCaCertificateChain: sender.chain },
  );
  return parcel.serialize(sender.privateKey);
}
