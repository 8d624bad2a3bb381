import { connect, type ClientHttp2Session } from 'node:http2';

import { waitFor } from '@twitter-relaynet/test-support';

import { CogRPCClient, createCogRPCServer, type CogRPCServer } from '../src';
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

describe('CogRPC server memory on CollectCargo', () => {
  test('holds two cargoes at most, not its window of five, for a courier that reads nothing', async () => {
    const cargoLength = 1024 * 1024;
    let pulled = 0;
    let probes = 0;
    const memoryServer = await createCogRPCServer({
      address: '127.0.0.1:0',
      tls: { insecurePlaintextForTests: true },
      // A round trip of another call: the collection had every chance to pull more meanwhile.
      storeCargo: async () => void probes++,
      collectCargo: async () =>
        (function* () {
          for (let index = 0; index < 8; index++) {
            pulled++;
            yield { cargo: Buffer.alloc(cargoLength, index), acknowledged: async () => undefined };
          }
        })(),
    });
    const client = connect(`http://127.0.0.1:${memoryServer.port}`);
    try {
      const stream = client.request({
        ':method': 'POST',
        ':path': '/awala.cogrpc.CargoRelay/CollectCargo',
        'content-type': 'application/grpc',
        te: 'trailers',
        authorization: `Awala-CCA ${Buffer.from('cca').toString('base64')}`,
      });
      // Never read: after HTTP/2's 64 KiB window the first cargo cannot go out.
      stream.pause();
      await waitFor('the second cargo to be made', () => pulled >= 2);
      const courier = new CogRPCClient(`127.0.0.1:${memoryServer.port}`, { tls: { insecurePlaintextForTests: true } });
      try {
        await courier.deliverCargo([{ cargo: Buffer.from('probe') }]);
      } finally {
        courier.close();
      }
      expect(probes).toBe(1);
      // One being sent, the next made and waiting: the rest of the window is not made, nor queued in grpc-js.
      expect(pulled).toBe(2);
      stream.destroy();
    } finally {
      client.destroy();
      await memoryServer.close();
    }
  });
});
