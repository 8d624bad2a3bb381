import type { Http2Session, Http2Stream } from 'node:http2';

/** A PING ACK frame: 9 octets of frame header and 8 of payload. */
const PING_ACK_OCTETS = 17;
const pingsAnswered = new WeakMap<Http2Session, { count: number }>();

/**
 * Octets moved on one gRPC call, sampled by a ProgressWatchdog. `received` counts the DATA octets of the call's
 * own HTTP/2 stream, not whole messages. `both` adds what this side handed to the connection's socket: the
 * session sends DATA only within the peer's flow-control window and one socket write at a time, so that count
 * stops when the peer stops reading (a whole message, by contrast, may take minutes on a slow link). Our answers
 * to the peer's keepalive pings are left out: a server that pings but no longer takes our parcels is idle.
 *
 * grpc-js keeps the HTTP/2 stream in internal objects (server: `call.call.stream`; client: under the resolving,
 * retrying and load-balancing calls, once a connection is picked), so it is looked for at each sample; where it
 * cannot be found the count stays 0, which reads as "no progress".
 */
export function callProgress(call: object, direction: 'received' | 'both' = 'received'): () => number {
  const counted = new WeakSet<Http2Stream>();
  let received = 0;
  let sent = 0;
  let session: Http2Session | undefined;
  let sessionSent = 0;
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
      if (!pingsAnswered.has(current)) {
        const pings = { count: 0 };
        pingsAnswered.set(current, pings);
        current.on('ping', () => pings.count++);
      }
      sessionSent = sentOn(current);
    }
    if (session && !session.destroyed) {
      const now = sentOn(session);
      sent += now - sessionSent;
      sessionSent = now;
    }
    return received + sent;
  };
}

function sentOn(session: Http2Session): number {
  return (session.socket?.bytesWritten ?? 0) - PING_ACK_OCTETS * (pingsAnswered.get(session)?.count ?? 0);
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
    const attempts = Array.isArray(layer.underlyingCalls) ? [...(layer.underlyingCalls as Array<{ call?: unknown }>)].reverse().map((a) => a.call) : [];
    queue.push(layer.call, layer.nextCall, layer.child, ...attempts);
  }
  return undefined;
}
