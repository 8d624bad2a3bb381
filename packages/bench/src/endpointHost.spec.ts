import { buildExecutables } from './network';
import { EndpointHost } from './endpointHost';

jest.setTimeout(60_000);

beforeAll(() => buildExecutables());

test('a call the child cannot serve rejects with its error, and the child keeps serving', async () => {
  const host = await EndpointHost.start('app-under-test', process.env);
  try {
    await expect(host.call('appSend', { n: 1, type: 'x', contentBytes: 1, concurrency: 1 })).rejects.toThrow(
      /app-under-test: .*The app is not open/,
    );
    await expect(host.call('appReceived', null)).resolves.toBe(0);
  } finally {
    await host.stop();
  }
});

test('a child that dies fails its pending calls with how it ended, and later calls too', async () => {
  const host = await EndpointHost.start('doomed', process.env);
  const pending = host.call('adapterStatus', null).then(
    () => host.call('close', null),
    (error: unknown) => Promise.reject(error),
  );
  process.kill(host.pid, 'SIGKILL');
  // The status call may have been answered before the signal landed; the call after it cannot be.
  await expect(pending).rejects.toThrow(/doomed \(endpoint process \d+\) ended with SIGKILL/);
  await expect(host.call('appReceived', null)).rejects.toThrow(/ended with SIGKILL/);
  await host.stop();
});
