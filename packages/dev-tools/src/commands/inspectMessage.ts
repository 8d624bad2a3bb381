import { Command } from 'commander';

import {
  Cargo,
  CargoCollectionAuthorization,
  CargoCollectionRequest,
  CargoMessageSet,
  describeMessageType,
  errorMessage,
  inspectEnvelopedData,
  MAX_RAMF_MESSAGE_LENGTH,
  MessageType,
  Parcel,
  ParcelCollectionAck,
  RamfMessage,
  readMessageType,
  ServiceMessage,
  type Certificate,
} from '@twitter-relaynet/core';

import { readAnyPrivateKey, readCertificate, readStdin, writeStdout } from '../io';

interface Options {
  recipientKey?: string;
  trustedCert: string[];
  json?: boolean;
}

type Report = Record<string, unknown>;

export function makeInspectMessageCommand(): Command {
  return new Command('inspect-message')
    .description(
      'Read a RAMF message (parcel, cargo, CCA) or PCA on standard input, validate it and print ' +
        'what it holds. Exit status 0 only when every check asked for passed.',
    )
    .option('--recipient-key <file>', "recipient's RSA or ECDH private key (PKCS#8) to decrypt the payload")
    .option(
      '--trusted-cert <file>',
      'trusted certificate to check the certification path against (repeatable)',
      (value: string, previous: string[]) => [...previous, value],
      [],
    )
    .option('--json', 'print JSON instead of text')
    .action(async (options: Options) => {
      const trusted = options.trustedCert.map((path) => readCertificate(path, 'trusted certificate'));
      const recipientKey = options.recipientKey ? readAnyPrivateKey(options.recipientKey, 'recipient key') : undefined;
      if (process.stdin.isTTY) {
        // Binary input is never typed: someone waiting here most likely forgot the redirection.
        process.stderr.write(
          'inspect-message: reading a message from standard input; pipe or redirect it, e.g. ' +
            'inspect-message < some.cargo (Ctrl-D ends the input, Ctrl-C gives up)\n',
        );
      }
      const input = await readStdin(MAX_RAMF_MESSAGE_LENGTH + 1);
      const { report, ok } = await inspect(input, trusted, recipientKey);
      await writeStdout(options.json ? JSON.stringify(report, null, 2) + '\n' : formatText(report));
      process.exitCode = ok ? 0 : 1;
    });
}

async function inspect(
  input: Buffer,
  trusted: Certificate[],
  recipientKey: ReturnType<typeof readAnyPrivateKey> | undefined,
): Promise<{ report: Report; ok: boolean }> {
  const report: Report = {};
  let ok = true;
  const fail = (key: string, error: unknown) => {
    report[key] = { error: errorMessage(error), errorType: (error as Error)?.name ?? 'Error' };
    ok = false;
  };

  let type: number;
  try {
    type = readMessageType(input);
  } catch (error) {
    fail('message', error);
    return { report, ok };
  }
  report.type = `${describeMessageType(type)} (0x${type.toString(16)})`;
  if (type === MessageType.PARCEL_COLLECTION_ACK) {
    try {
      const pca = ParcelCollectionAck.deserialize(input);
      Object.assign(report, {
        senderEndpointId: pca.senderEndpointId,
        recipientEndpointId: pca.recipientEndpointId,
        parcelId: pca.parcelId,
      });
    } catch (error) {
      fail('message', error);
    }
    return { report, ok };
  }

  let message: RamfMessage<unknown>;
  try {
    message = await deserialize(type, input);
  } catch (error) {
    fail('message', error);
    return { report, ok };
  }
  Object.assign(report, describeRamf(message));

  try {
    await message.validate(null);
    report.timing = 'valid';
  } catch (error) {
    fail('timing', error);
  }
  if (trusted.length > 0) {
    try {
      const path = await message.validate(trusted);
      report.certificationPath = path!.map((certificate) => certificate.calculateSubjectId());
    } catch (error) {
      fail('certificationPath', error);
    }
  }

  try {
    const kind = inspectEnvelopedData(message.payloadSerialized);
    report.encryption =
      kind.kind === 'session'
        ? {
            kind: 'session',
            recipientSessionKeyId: kind.recipientSessionKeyId.toString('hex'),
            originatorSessionKeyId: kind.originatorSessionKey.keyId.toString('hex'),
          }
        : { kind: 'sessionless' };
  } catch (error) {
    fail('encryption', error);
  }
  if (recipientKey) {
    try {
      const { payload } = await message.unwrapPayload(recipientKey);
      const described = await describePayload(payload);
      report.payload = described.report;
      ok &&= described.ok;
    } catch (error) {
      fail('payload', error);
    }
  }
  return { report, ok };
}

function deserialize(type: number, input: Buffer): Promise<RamfMessage<unknown>> {
  switch (type) {
    case MessageType.PARCEL:
      return Parcel.deserialize(input);
    case MessageType.CARGO:
      return Cargo.deserialize(input);
    case MessageType.CARGO_COLLECTION_AUTHORIZATION:
      return CargoCollectionAuthorization.deserialize(input);
    default:
      throw new Error(`Cannot inspect a ${describeMessageType(type)} message`);
  }
}

function describeRamf(message: RamfMessage<unknown>): Report {
  return {
    id: message.id,
    creationDate: message.creationDate.toISOString(),
    expiryDate: message.expiryDate.toISOString(),
    ttl: message.ttl,
    recipientId: message.recipient.id,
    ...(message.recipient.internetAddress ? { recipientInternetAddress: message.recipient.internetAddress } : {}),
    senderId: message.senderCertificate.calculateSubjectId(),
    senderCertificateExpiry: message.senderCertificate.expiryDate.toISOString(),
    senderCaCertificates: message.senderCaCertificateChain.map((certificate) => certificate.calculateSubjectId()),
    payloadLength: message.payloadSerialized.length,
  };
}

async function describePayload(payload: unknown): Promise<{ report: Report; ok: boolean }> {
  if (payload instanceof ServiceMessage) {
    return { report: { serviceMessageType: payload.type, ...describeContent(payload.content) }, ok: true };
  }
  if (payload instanceof CargoCollectionRequest) {
    const cda = payload.cargoDeliveryAuthorization;
    return {
      report: {
        cargoDeliveryAuthorization: {
          subjectId: cda.calculateSubjectId(),
          startDate: cda.startDate.toISOString(),
          expiryDate: cda.expiryDate.toISOString(),
        },
      },
      ok: true,
    };
  }
  if (payload instanceof CargoMessageSet) {
    let ok = true;
    const items: Report[] = [];
    for (const item of payload.messages) {
      try {
        const type = readMessageType(item);
        if (type === MessageType.PARCEL_COLLECTION_ACK) {
          const pca = ParcelCollectionAck.deserialize(item);
          items.push({
            type: 'parcel collection acknowledgement',
            parcelId: pca.parcelId,
            senderEndpointId: pca.senderEndpointId,
            recipientEndpointId: pca.recipientEndpointId,
          });
        } else {
          const parcel = await Parcel.deserialize(item);
          items.push({
            type: 'parcel',
            id: parcel.id,
            recipientId: parcel.recipient.id,
            senderId: parcel.senderCertificate.calculateSubjectId(),
            length: item.length,
          });
        }
      } catch (error) {
        ok = false;
        items.push({ error: errorMessage(error), errorType: (error as Error)?.name ?? 'Error', length: item.length });
      }
    }
    return { report: { items }, ok };
  }
  return { report: {}, ok: true };
}

function describeContent(content: Buffer): Report {
  const text = content.toString('utf8');
  const printable = !text.includes('\uFFFD') && /^[\P{C}\n\r\t]*$/u.test(text);
  return printable
    ? { contentLength: content.length, content: text }
    : { contentLength: content.length, contentBase64: content.toString('base64') };
}

function formatText(report: Report, indent = ''): string {
  return Object.entries(report)
    .map(([key, value]) => {
      if (Array.isArray(value)) {
        if (value.length === 0) return `${indent}${key}: (none)\n`;
        return (
          `${indent}${key}:\n` +
          value
            .map((item) =>
              typeof item === 'object' && item !== null
                ? `${indent}  -\n${formatText(item as Report, indent + '    ')}`
                : `${indent}  - ${String(item)}\n`,
            )
            .join('')
        );
      }
      if (typeof value === 'object' && value !== null) {
        return `${indent}${key}:\n${formatText(value as Report, indent + '  ')}`;
      }
      return `${indent}${key}: ${String(value)}\n`;
    })
    .join('');
}
