/** Raw connections to a server under test: a TCP socket, the octets it sent before closing, an open gRPC call. */
import * as http2 from 'node:http2';
import { connect, type Socket } from 'node:net';

/** A TCP connection to `port` on localhost, once connected. */
export const openConnection = (port: number): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.on('error', reject);
  });

/** Octets the server sent on `socket` before it closed it. */
export const closedByServer = (socket: Socket): Promise<number> =>
  new Promise((resolve) => {
    let octets = 0;
    socket.on('data', (chunk: Buffer) => (octets += chunk.length));
    socket.on('error', () => undefined);
    socket.once('close', () => resolve(octets));
  });

/** A plaintext HTTP/2 connection with a gRPC call to `path` started and left open: a peer holding its slot with a call. */
export function startOpenCall(port: number, path: string): http2.ClientHttp2Session {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  const stream = session.request({
    ':method': 'POST',
    ':path': path,
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  stream.on('error', () => undefined);
  return session;
}
