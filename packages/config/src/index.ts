// Configuration shared by every executable (docs/runtime-layout.md): nothing protocol-specific lives here.
export { DATA_ROOT_VARIABLE, DATA_ROOT_FOLDER, defaultDataRoot, resolveDataRoot } from './dataRoot';
export { ConfigurationError, UsageError } from './errors';
export { DotenvError, parseDotenv, readDotenv } from './dotenv';
export {
  CLOCK_STATUS_FILE,
  MAX_CLOCK_STATUS_FILE_LENGTH,
  type ClockRefusal,
  type ClockStatus,
  ClockStatusFileError,
  describeClockStatus,
  parseClockStatus,
  readClockStatus,
  serializeClockStatus,
} from './clockStatus';
export {
  REGISTRATION_STATUS_FILE,
  type RegistrationStatus,
  RegistrationStatusFileError,
  describeUserGatewayRegistration,
  parseRegistrationStatus,
  serializeRegistrationStatus,
} from './registrationStatus';
export { DAEMON_EXIT, DAEMON_HELP_FOOTER } from './daemonHelp';
export {
  X_API_EMULATOR_CREDENTIALS,
  X_API_EMULATOR_HOST,
  X_API_EMULATOR_PORT,
  type XApiEmulatorCredentials,
} from './xApiEmulator';
export { readCertificateFile } from './certificateFile';
export { dropOutputWhenReaderCloses } from './closedOutput';
