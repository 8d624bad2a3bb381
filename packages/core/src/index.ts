// The public surface of the protocol core. Nothing is public unless it is exported here.

export * from './errors';

// PKI: keys, certificates, certification paths
export * from './pki';

// CMS: signed and enveloped data
export {
  signSignedData,
  verifySignedData,
  type SignatureOptions,
  type SignatureVerification,
  type HashingAlgorithm,
} from './cms/signedData';
export {
  encryptSessionless,
  decryptSessionless,
  encryptWithSessionKey,
  decryptWithSessionKey,
  inspectEnvelopedData,
  type EnvelopedDataKind,
  type SessionEncryptionResult,
} from './cms/envelopedData';
export type { AesKeySize } from './cms/algorithms';

// RAMF
export * from './ramf/limits';
export { MessageType, MESSAGE_VERSION, describeMessageType, readMessageType } from './ramf/formatSignature';
export { type Recipient, isValidDomainName } from './ramf/Recipient';
export {
  RamfMessage,
  type RamfMessageOptions,
  type ValidationOptions,
  type PrivateKeySource,
  type UnwrappedPayload,
} from './ramf/RamfMessage';
export { InvalidSignatureError, readStoredRamfFields } from './ramf/serialization';
export { encryptPayload, type PayloadRecipient, type EncryptedPayload } from './ramf/payloadEncryption';
export type { DerChunks } from './asn1/derChunks';

// Messages and payloads
export { Parcel, MAX_PARCEL_LENGTH } from './messages/Parcel';
export { Cargo } from './messages/Cargo';
export { CargoCollectionAuthorization } from './messages/CargoCollectionAuthorization';
export { ParcelCollectionAck } from './messages/ParcelCollectionAck';
export { ServiceMessage, MAX_SERVICE_MESSAGE_TYPE_LENGTH } from './messages/payloads/ServiceMessage';
export {
  CargoMessageSet,
  MAX_CARGO_ITEM_LENGTH,
  batchMessages,
  type BatchItem,
  type MessageBatch,
} from './messages/payloads/CargoMessageSet';
export { CargoCollectionRequest } from './messages/payloads/CargoCollectionRequest';

// Logging and time, behind small interfaces every package shares
export {
  type Logger,
  type LogRecord,
  type LogFormat,
  type ParsedLogLine,
  silentLogger,
  MemoryLogger,
  jsonLineLogger,
  lineLogger,
  logFormatFor,
  parseJsonLogLine,
  humanLogText,
  humanTime,
  LOG_FORMAT_VARIABLE,
} from './logging';
export { type Clock, systemClock, ManualClock } from './clock';

// Transfers: idle means no octets moved, however long the whole transfer takes
export { ProgressWatchdog, socketProgress, type ProgressWatchdogOptions } from './transferProgress';
export { writeFileAtomically } from './files';
export { findProtoFolder, protobufVarint } from './protoFiles';
export { backoffDelay, type BackoffOptions } from './backoff';
export { GroupCommitter, MAX_GROUP_COMMIT_ITEMS, type CommitGroup } from './groupCommit';
export { LruCache } from './lruCache';
export {
  openSqliteDatabase,
  SchemaVersionError,
  SQLITE_BUSY_TIMEOUT_MS,
  type SqliteConnection,
  type SqliteOpenOptions,
} from './sqlite';
export { removeStaleSocket, type StaleSocketProblem } from './unixSocket';
