export { UserGatewayDaemon, type UserGatewayDaemonOptions, FILES } from './daemon';
export { resolveConfig, defaultDataRoot, ENV, type UserGatewayConfig, type UserGatewayFlags } from './config';
export { main } from './cli';
