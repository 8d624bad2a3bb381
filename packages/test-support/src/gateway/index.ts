// `@twitter-relaynet/test-support/gateway`: fixtures for tests of the gateway library and of what is built on it.
export {
  ADAPTER_ADDRESS,
  collect,
  getKeyPairs,
  makeParcelToAdapter,
  makeParcelToApp,
  makeWorld,
  type NodeFixture,
  type TestParcelOptions,
  type World,
  type WorldOptions,
} from './world';
export { describeStoreConformance, HOUR, NOW, parcel, type StoreHarness } from './storeConformance';
