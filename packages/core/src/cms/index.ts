export {
  signSignedData,
  verifySignedData,
  type HashingAlgorithm,
  type SignatureOptions,
  type SignatureVerification,
  type VerificationOptions,
} from './signedData';
export {
  decryptSessionless,
  decryptWithSessionKey,
  encryptSessionless,
  encryptWithSessionKey,
  inspectEnvelopedData,
  type AesKeySize,
  type EncryptionOptions,
  type EnvelopedDataKind,
  type SessionEncryptionResult,
} from './envelopedData';
