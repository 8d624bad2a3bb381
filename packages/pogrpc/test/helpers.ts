import { connect, type Socket } from 'node:net';

import { parseAddress } from '../src';

const H2_ERRORS = [
  'NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED',
  'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED',
];

/** Describe how the server ended a raw connection from what it sent back. */
export function classifyRawResponse(received: Buffer, tls: boolean): string {
  if (tls) {
    // TLS record: type(1) version(2) length(2); 0x15 = alert.
    for (let offset = 0; offset + 5 <= received.length; offset += 5 + received.readUInt16BE(offset + 3)) {
      if (received[offset] === 0x15) return 'tls-alert';
    }
    return 'closed';
  }
  // HTTP/2 frames: length(3) type(1) flags(1) stream(4); GOAWAY = 0x7 with lastStreamId(4) errorCode(4).
  for (let offset = 0; offset + 9 <= received.length; ) {
    const length = received.readUIntBE(offset, 3);
    const type = received[offset + 3];
    if (type === 0x7 && offset + 9 + 8 <= received.length) {
      const code = received.readUInt32BE(offset + 9 + 4);
      return `goaway:${H2_ERRORS[code] ?? code}`;
    }
    offset += 9 + length;
  }
  return 'closed';
}

/** Open a raw connection to `address`, write `bytes`, and resolve with how the server ended it. */
export function sendRawBytes(address: string, bytes: Buffer, tls: boolean, timeoutMs = 5_000): Promise<{ reason: string; received: Buffer }> {
  const target = parseAddress(address);
  return new Promise((resolve, reject) => {
    const socket: Socket = target.path ? connect(target.path) : connect(target.port, target.host);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('Server did not end the raw connection'));
    }, timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('connect', () => socket.write(bytes));
    socket.on('end', () => socket.end());
    socket.on('close', () => {
      clearTimeout(timer);
      const received = Buffer.concat(chunks);
      resolve({ reason: classifyRawResponse(received, tls), received });
    });
  });
}

/** Poll `check` every 50 ms until it holds; throws after `timeoutMs`. */
export async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
