import { connect, type ClientHttp2Session } from 'node:http2';

import { createCogRPCServer, type CogRPCServer } from '../src';
import { COGRPC_FLOW_CONTROL_WINDOW } from '../src/constants';

describe('CogRPC server HTTP/2 flow control', () => {
  let server: CogRPCServer;
  let session: ClientHttp2Session | undefined;

  beforeAll(async () => {
    server = await createCogRPCServer({
      address: '127.0.0.1:0',
      tls: { insecurePlaintextForTests: true },
      storeCargo: async () => undefined,
      collectCargo: async () => [],
    });
  });

  afterAll(async () => {
    session?.destroy();
    await server.close();
  });

  test('lets a peer send the CogRPC window, per stream and on the connection, not HTTP/2 64 KiB', async () => {
    session = connect(`http://127.0.0.1:${server.port}`);
    const connected = session;
    await new Promise<void>((resolve, reject) => {
      connected.once('remoteSettings', () => resolve());
      connected.once('error', reject);
    });
    // The server widens its windows as the session starts, before it can answer anything: once our PING comes
    // back, its WINDOW_UPDATE and SETTINGS (sent earlier on the same connection) have been read.
    await new Promise<void>((resolve, reject) => connected.ping((error) => (error ? reject(error) : resolve())));
    expect(connected.remoteSettings.initialWindowSize).toBe(COGRPC_FLOW_CONTROL_WINDOW);
    expect(connected.state.remoteWindowSize).toBe(COGRPC_FLOW_CONTROL_WINDOW);
    expect(COGRPC_FLOW_CONTROL_WINDOW).toBeGreaterThan(65_535);
  });
});
