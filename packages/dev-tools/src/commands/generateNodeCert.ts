import { Command, Option } from 'commander';

import { UsageError } from '@twitter-relaynet/config';
import {
  Certificate,
  derSerializePrivateKey,
  derSerializePublicKey,
  derToPem,
  generateRsaKeyPair,
  generateSessionKeyPair,
  getIdFromIdentityKey,
  issueDeliveryAuthorization,
  issueEndpointCertificate,
  issueGatewayCertificate,
  type RsaModulus,
} from '@twitter-relaynet/core';

import { parseInteger, readCertificate, readPrivateKey, writeOutputFile, writeStdout } from '../io';

const MAX_VALIDITY_DAYS = 180;
const PRIVATE_TYPES = ['gateway', 'endpoint', 'pda', 'cda'] as const;
const PUBLIC_TYPES = ['gateway', 'endpoint'] as const;
type CertType = (typeof PRIVATE_TYPES)[number];

interface Options {
  type: CertType;
  issuerCert?: string;
  issuerKey?: string;
  keySize: string;
  validityDays: string;
  certOut: string;
  keyOut: string;
  format: 'pem' | 'der';
  sessionKeyOut?: string;
  sessionPublicKeyOut?: string;
}

/**
 * The two certificate tools share one implementation: private nodes may also issue delivery
 * authorizations (PDA, CDA), public nodes may also publish an initial session key.
 */
export function makeNodeCertCommand(kind: 'private' | 'public'): Command {
  const types = kind === 'private' ? PRIVATE_TYPES : PUBLIC_TYPES;
  const command = new Command(`generate-${kind}-node-cert`)
    .description(
      kind === 'private'
        ? 'Make an RSA key pair and a certificate for a private node (gateway or endpoint), or a ' +
            'delivery authorization (PDA or CDA) issued by one.'
        : 'Make an RSA key pair and a certificate for a public (Internet) node, self-issued unless ' +
            'an issuer is given, and optionally an initial ECDH session key.',
    )
    .addOption(new Option('--type <type>', 'what the certificate is for').choices([...types]).default('gateway'))
    .option('--issuer-cert <file>', "issuer's certificate (PEM or DER); omit for a self-issued certificate")
    .option('--issuer-key <file>', "issuer's private key (PKCS#8, PEM or DER)")
    .option('--key-size <bits>', 'RSA modulus: 2048, 3072 or 4096', '2048')
    .option('--validity-days <days>', `validity period, 1..${MAX_VALIDITY_DAYS}`, '90')
    .requiredOption('--cert-out <file>', 'where to write the certificate')
    .requiredOption('--key-out <file>', 'where to write the private key (mode 0600)')
    .addOption(new Option('--format <format>', 'output encoding').choices(['pem', 'der']).default('pem'));
  if (kind === 'public') {
    command
      .option('--session-key-out <file>', 'also make a session key pair and write its private key here')
      .option('--session-public-key-out <file>', 'where to write the session public key (SPKI)');
  }
  return command.action(async (options: Options) => {
    await generate(options);
  });
}

async function generate(options: Options): Promise<void> {
  const modulus = parseInteger(options.keySize, '--key-size', 2048, 4096);
  if (![2048, 3072, 4096].includes(modulus)) {
    throw new UsageError(`--key-size must be 2048, 3072 or 4096 (got ${modulus})`);
  }
  const days = parseInteger(options.validityDays, '--validity-days', 1, MAX_VALIDITY_DAYS);
  if (Boolean(options.issuerCert) !== Boolean(options.issuerKey)) {
    throw new UsageError('--issuer-cert and --issuer-key go together');
  }
  if ((options.type === 'pda' || options.type === 'cda') && !options.issuerCert) {
    throw new UsageError(`A ${options.type.toUpperCase()} needs an issuer (--issuer-cert and --issuer-key)`);
  }
  if (options.sessionPublicKeyOut && !options.sessionKeyOut) {
    throw new UsageError('--session-public-key-out needs --session-key-out');
  }

  const issuerCertificate = options.issuerCert ? readCertificate(options.issuerCert, 'issuer certificate') : undefined;
  const issuerKey = options.issuerKey ? readPrivateKey(options.issuerKey, 'issuer key') : undefined;
  if (issuerCertificate && issuerKey && getIdFromIdentityKey(issuerKey) !== issuerCertificate.calculateSubjectId()) {
    throw new UsageError('--issuer-key does not belong to --issuer-cert');
  }

  const keyPair = await generateRsaKeyPair(modulus as RsaModulus);
  const issuanceOptions = {
    subjectPublicKey: keyPair.publicKey,
    issuerPrivateKey: issuerKey ?? keyPair.privateKey,
    issuerCertificate,
    validityEndDate: new Date(Date.now() + days * 86_400_000),
  };
  let certificate: Certificate;
  try {
    certificate = await issue(options.type, issuanceOptions);
  } catch (error) {
    throw new UsageError(`Cannot issue the certificate: ${(error as Error).message}`);
  }

  const pem = options.format === 'pem';
  const certificateDer = certificate.serialize();
  const keyDer = derSerializePrivateKey(keyPair.privateKey);
  writeOutputFile(options.certOut, pem ? derToPem(certificateDer, 'CERTIFICATE') : certificateDer);
  writeOutputFile(options.keyOut, pem ? derToPem(keyDer, 'PRIVATE KEY') : keyDer, 0o600);

  const summary: Record<string, string> = {
    id: certificate.calculateSubjectId(),
    type: options.type,
    issuer: issuerCertificate ? issuerCertificate.calculateSubjectId() : 'self',
    expiry: certificate.expiryDate.toISOString(),
  };
  if (options.sessionKeyOut) {
    const session = await generateSessionKeyPair();
    const sessionDer = derSerializePrivateKey(session.privateKey);
    writeOutputFile(options.sessionKeyOut, pem ? derToPem(sessionDer, 'PRIVATE KEY') : sessionDer, 0o600);
    if (options.sessionPublicKeyOut) {
      const spki = derSerializePublicKey(session.sessionKey.publicKey);
      writeOutputFile(options.sessionPublicKeyOut, pem ? derToPem(spki, 'PUBLIC KEY') : spki);
    }
    summary.sessionKeyId = session.sessionKey.keyId.toString('hex');
  }
  await writeStdout(
    Object.entries(summary)
      .map(([key, value]) => `${key}: ${value}`)
      .join('\n') + '\n',
  );
}

function issue(type: CertType, options: Parameters<typeof issueGatewayCertificate>[0]): Promise<Certificate> {
  switch (type) {
    case 'gateway':
      return issueGatewayCertificate(options);
    case 'endpoint':
      return issueEndpointCertificate(options);
    case 'pda':
    case 'cda':
      return issueDeliveryAuthorization({ ...options, issuerCertificate: options.issuerCertificate! });
  }
}
