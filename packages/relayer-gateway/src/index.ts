export { RelayerGatewayDaemon, type RelayerGatewayDaemonOptions, FILES } from './daemon';
export { AddressBook, type Route } from './addressBook';
export {
  resolveConfig,
  defaultDataRoot,
  ENV,
  DEFAULT_POGRPC_ADDRESS,
  type RelayerGatewayConfig,
  type RelayerGatewayFlags,
} from './config';
export { main } from './cli';
