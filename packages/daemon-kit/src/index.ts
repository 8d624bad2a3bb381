// The parts every daemon plugs together. A daemon reads as a list of these and of its libraries' parts.
export {
  bannerPrinter,
  daemonCommand,
  type DaemonIo,
  daemonLogger,
  daemonMain,
  describeVariables,
  parseDaemonCommandLine,
  processIo,
  type StartableDaemon,
  type UsageErrorClass,
} from './command';
export { type DaemonMain, type DaemonProcess, runDaemon, type RunningDaemon } from './run';
export { ensurePrivateDirectory, loadOrCreateKeyPair, readCertificate, writeCertificate } from './files';
export { listeningHost, publishServer, tlsHostnames } from './address';
export { Notifier } from './notifier';
export { StatusFile } from './statusFile';
export {
  BufferGrowthCollector,
  IdleCollector,
  type IdleCollectorOptions,
  type IdleSample,
  startBufferCollector,
  startIdleCollector,
} from './idleCollector';
export { IntervalPoller, type IntervalPollerOptions } from './poller';
