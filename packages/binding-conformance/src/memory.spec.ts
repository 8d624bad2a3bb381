/**
 * The suite run against a tiny in-memory reference binding, to keep the suite itself honest: if the suite
 * asserted something a correct binding cannot do, this would fail.
 */
import { describeBindingConformance } from './suite';
import type { BindingFactory, DeliveryReport, RawConnectionOutcome, TestClient } from './types';

const WINDOW = 5;
const MAX = 1024 * 1024;

const memoryBinding: BindingFactory = {
  name: 'in-memory reference',
  maxMessageSize: MAX,
  window: WINDOW,
  frameOverhead: 0,
  garbageReason: 'invalid',
  stalledInput: Buffer.from([0x01, 0x00]),
  stallReason: 'timeout',
  malformedInputs: [{ name: 'unknown frame type', bytes: Buffer.from([0x09]), expectedReason: 'invalid' }],

  async start({ onMessage, idleTimeoutMs }) {
    let buffered = 0;
    return {
      async connectClient(): Promise<TestClient> {
        let alive = true;
        let wake: (() => void) | null = null;
        const kill = () => {
          alive = false;
          wake?.();
        };
        return {
          async deliver(messages, options = {}): Promise<DeliveryReport> {
            const acked: number[] = [];
            const inFlight = new Set<number>();
            const unacked: number[] = [];
            let error: unknown;
            const onAbort = () => wake?.();
            options.signal?.addEventListener('abort', onAbort);
            const failure = () =>
              options.signal?.aborted ? new Error('aborted') : alive ? undefined : new Error('connection lost');
            const waitUntil = async (condition: () => boolean) => {
              while (!condition() && !failure()) await new Promise<void>((resolve) => (wake = resolve));
            };
            // Server side: one message at a time, acked after the store resolves.
            let chain = Promise.resolve();
            let index = 0;
            for await (const message of messages) {
              const i = index++;
              if ((error = failure()) || message.length > MAX) {
                error ??= new Error('too large');
                unacked.push(i);
                break;
              }
              await waitUntil(() => inFlight.size < WINDOW);
              if ((error = failure())) {
                unacked.push(i);
                break;
              }
              inFlight.add(i);
              buffered += message.length;
              chain = chain.then(async () => {
                if (!alive) return;
                await onMessage(Buffer.from(message));
                buffered -= message.length;
                if (!alive) return;
                inFlight.delete(i);
                acked.push(i);
                options.onAck?.(i);
                wake?.();
              });
            }
            if (!error) {
              await waitUntil(() => inFlight.size === 0);
              error = inFlight.size ? failure() : undefined;
            }
            options.signal?.removeEventListener('abort', onAbort);
            return error ? { acked, unacked: [...inFlight, ...unacked], error } : { acked, unacked };
          },
          destroy: kill,
          close: async () => kill(),
        };
      },
      async sendRaw(bytes): Promise<RawConnectionOutcome> {
        if (bytes.length === 0 || bytes[0] !== 0x01) return { reason: 'invalid' };
        await new Promise((resolve) => setTimeout(resolve, idleTimeoutMs));
        return { reason: 'timeout' };
      },
      bufferedBytes: () => buffered,
      async close() {},
    };
  },
};

describeBindingConformance(memoryBinding);
