import { Command } from 'commander';

import { UsageError } from '@twitter-relaynet/config';
import {
  Cargo,
  CargoMessageSet,
  encryptPayload,
  errorMessage,
  MAX_CARGO_ITEM_LENGTH,
  MAX_SDU_PLAINTEXT_LENGTH,
  MAX_TTL_SECONDS,
  readMessageType,
} from '@twitter-relaynet/core';

import { parseInteger, readBinaryFile, readCertificate, writeStdout } from '../io';
import { collect, readSender, type SenderOptions } from './messageOptions';

interface Options extends SenderOptions {
  recipientCert: string;
  ttl: string;
}

export function makeGenerateCargoCommand(): Command {
  return new Command('generate-cargo')
    .description(
      'Make a cargo carrying the given RAMF messages (parcels, PCAs), encrypted for the recipient ' +
        'gateway; the cargo is written to standard output.',
    )
    .argument('<message-file...>', 'serialized messages to put in the cargo, in order')
    .requiredOption('--recipient-cert <file>', "recipient gateway's certificate (PEM or DER)")
    .requiredOption('--sender-cert <file>', "sender gateway's certificate (PEM or DER)")
    .requiredOption('--sender-key <file>', "sender gateway's private key (PKCS#8, PEM or DER)")
    .option('--sender-chain <file>', 'a CA certificate to attach (repeatable)', collect, [])
    .option('--ttl <seconds>', `time to live, 0..${MAX_TTL_SECONDS}`, '86400')
    .action(async (files: string[], options: Options) => {
      await writeStdout(await generateCargo(files, options));
    });
}

async function generateCargo(files: string[], options: Options): Promise<Buffer> {
  const ttl = parseInteger(options.ttl, '--ttl', 0, MAX_TTL_SECONDS);
  const messages = files.map((file) => {
    const message = readBinaryFile(file, 'message');
    if (message.length > MAX_CARGO_ITEM_LENGTH) {
      throw new UsageError(`"${file}" is too large to travel in cargo (${message.length} octets)`);
    }
    try {
      readMessageType(message);
    } catch (error) {
      throw new UsageError(`"${file}" is not a RAMF message: ${errorMessage(error)}`);
    }
    return message;
  });
  const plaintext = new CargoMessageSet(messages).serialize();
  if (plaintext.length > MAX_SDU_PLAINTEXT_LENGTH) {
    throw new UsageError(
      `The messages add up to ${plaintext.length} octets, more than one cargo carries ` +
        `(${MAX_SDU_PLAINTEXT_LENGTH}); split them`,
    );
  }
  const recipientCertificate = readCertificate(options.recipientCert, 'recipient certificate');
  const sender = readSender(options);
  const { envelopedData } = await encryptPayload(plaintext, { certificate: recipientCertificate });
  const cargo = new Cargo({ id: recipientCertificate.calculateSubjectId() }, sender.certificate, envelopedData, {
    ttl,
    senderCaCertificateChain: sender.chain,
  });
  return cargo.serialize(sender.privateKey);
}
