export { Supervisor, type ProcessSpec, type SupervisorResult, type SupervisorOptions } from './supervisor';
export {
  systemProcesses,
  emulatorBaseUrl,
  emulatorPortFrom,
  DEFAULT_EMULATOR_PORT,
  type SystemOptions,
} from './system';
export { REPO_ROOT } from './layout';
export { usesRealXApi } from './env';
