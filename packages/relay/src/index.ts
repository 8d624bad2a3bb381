export { RelayError } from './errors';
export { main, makeCommand, MAX_WAIT_SECONDS, type CliIo } from './cli';
export { runRelay, type RelayOptions, type RelayDependencies } from './relay';
export {
  CoSocketConnector,
  CollectionRefusedError,
  type GatewayConnection,
  type GatewayConnector,
  type DeliveryCallbacks,
} from './gateway';
export {
  CogRPCConnector,
  GatewayCertificateError,
  parseGatewayAddress,
  parseFingerprint,
  type GatewayTrust,
} from './cogrpcGateway';
export {
  ExitCode,
  exitCodeOf,
  formatOctets,
  formatSummary,
  renderBar,
  PlainReporter,
  TerminalProgress,
  type RelayResult,
  type Reporter,
  type Tally,
  type OutputStream,
} from './output';
export {
  checkMessage,
  readMessageFile,
  scanFolder,
  writeDurably,
  syncDirectory,
  InvalidMessageError,
  KIND_EXTENSION,
  realFileSystem,
  type MessageKind,
  type FlashdriveFile,
  type FolderScan,
  type WriteFileSystem,
} from './flashdrive';
export {
  runRegistrationLeg,
  coSocketRegistrationExchange,
  registrationExchangeOf,
  exitCodeWithRegistration,
  RegistrationRefusedError,
  RegistrationUnsupportedError,
  REGISTRATION_FOLDER,
  type RegistrationExchange,
  type RegistrationLegOptions,
  type RegistrationLegResult,
} from './registration';
