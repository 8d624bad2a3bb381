import type { Http2Session, Http2Stream } from 'node:http2';

/**
 * Octets moved on one gRPC call, sampled by a ProgressWatchdog. `received` counts the DATA octets of the call's
 * own HTTP/2 stream, not whole messages (an 8 MiB parcel on a slow link arrives over minutes; the stream sees each
 * DATA frame). `both` adds, while the call has data waiting to be sent, what this side handed to the connection's
 * socket: HTTP/2 flow control lets DATA out only as the peer reads it, and the session has one socket write in
 * flight at a time, so that count stops when the peer stops taking our data. With nothing waiting to be sent,
 * that count is ignored: it then holds only our answers to the peer's keepalive pings, and a server that pings
 * but never acks is idle. (grpc-js removes every session listener, Node's own included, so the pings themselves
 * cannot be counted.)
 *
 * grpc-js keeps the HTTP/2 stream in internal objects (server: `call.call.stream`; client: under the resolving,
 * retrying and load-balancing calls, once a connection is picked), so it is looked for at each sample. Where it
 * cannot be found the count stays 0, which reads as "no progress": if a grpc-js upgrade hides it, the slow-link
 * tests fail.
 */
export function callProgress(call: object, direction: 'received' | 'both' = 'received'): () => number {
  const counted = new WeakSet<Http2Stream>();
  let received = 0;
  let sent = 0;
  let session: Http2Session | undefined;
  let sessionSent = 0;
  let wasSending = false;
  return () => {
    const stream = findStream(call);
    if (stream && !counted.has(stream)) {
      counted.add(stream);
      // grpc-js paused the stream before adding its own listener, so adding one here does not start the flow.
      stream.on('data', (chunk: Buffer) => (received += chunk.length));
    }
    if (direction === 'received') return received;
    const current = stream?.session;
    if (current && current !== session && !current.destroyed) {
      session = current;
      sessionSent = sentOn(current);
    }
    const sending = (stream?.bufferSize ?? 0) > 0;
    if (session && !session.destroyed) {
      const now = sentOn(session);
      // The sample that sees the last octets leave no longer sees them waiting: the previous one did.
      if (sending || wasSending) sent += now - sessionSent;
      sessionSent = now;
    }
    wasSending = sending;
    return received + sent;
  };
}

function sentOn(session: Http2Session): number {
  return session.socket?.bytesWritten ?? 0;
}

/** The HTTP/2 stream a grpc-js call runs on: `stream` on the server side, `http2Stream` on the client side. */
function findStream(call: object): Http2Stream | undefined {
  const queue: unknown[] = [call];
  for (let visited = 0; queue.length > 0 && visited < 32; visited++) {
    const layer = queue.shift() as Record<string, unknown> | null | undefined;
    if (!layer || typeof layer !== 'object') continue;
    const stream = layer.http2Stream ?? (layer === call ? undefined : layer.stream);
    if (stream && typeof (stream as Http2Stream).on === 'function') return stream as Http2Stream;
    // Client: the latest attempt of a retrying call is the live one.
    const attempts = Array.isArray(layer.underlyingCalls)
      ? [...(layer.underlyingCalls as Array<{ call?: unknown }>)].reverse().map((attempt) => attempt.call)
      : [];
    queue.push(layer.call, layer.nextCall, layer.child, ...attempts);
  }
  return undefined;
}
