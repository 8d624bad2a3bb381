// `@twitter-relaynet/test-support/endpoint`: stand-ins for the nodes around an endpoint (a user gateway, in memory or
// serving PoWebSocket, and the Twitter API adapter's public endpoint).
export { MemoryGatewayTransport } from './memoryGatewayTransport';
export { ADAPTER_ADDRESS, TestAdapter, TestUserGateway } from './standIns';
