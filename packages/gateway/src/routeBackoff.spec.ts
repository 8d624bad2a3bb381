import { ROUTE_RETRY_INITIAL_MS, ROUTE_RETRY_MAX_MS, RouteBackoff } from './routeBackoff';

test('a failed route waits 1 s, then twice as long after each failure, at most a minute; success resets it', () => {
  let now = 1_000_000;
  const backoff = new RouteBackoff(() => now);
  expect(backoff.blockedUntil('adapter')).toBeNull();

  expect(backoff.failed('adapter').getTime()).toBe(now + ROUTE_RETRY_INITIAL_MS);
  expect(backoff.blockedUntil('adapter')?.getTime()).toBe(now + ROUTE_RETRY_INITIAL_MS);
  expect(backoff.blockedUntil('elsewhere')).toBeNull(); // routes are independent

  now += ROUTE_RETRY_INITIAL_MS;
  expect(backoff.blockedUntil('adapter')).toBeNull(); // time to try again
  expect(backoff.failed('adapter').getTime()).toBe(now + 2 * ROUTE_RETRY_INITIAL_MS);
  expect(backoff.failed('adapter').getTime()).toBe(now + 4 * ROUTE_RETRY_INITIAL_MS);
  for (let i = 0; i < 40; i += 1) backoff.failed('adapter');
  expect(backoff.blockedUntil('adapter')?.getTime()).toBe(now + ROUTE_RETRY_MAX_MS);

  backoff.succeeded('adapter');
  expect(backoff.blockedUntil('adapter')).toBeNull();
  expect(backoff.failed('adapter').getTime()).toBe(now + ROUTE_RETRY_INITIAL_MS);
});
