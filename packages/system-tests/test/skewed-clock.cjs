/**
 * Test-only preload (node --require): moves this process's clock by RELAYNET_TEST_CLOCK_SKEW_MS
 * milliseconds (positive: ahead), the way a wrong system clock would. Date.now() and `new Date()`
 * are shifted; timers and monotonic clocks are not (they do not depend on the wall clock).
 * Used by skew.spec.ts to put one side of the network hours away from the other.
 */
'use strict';
const skew = Number(process.env.RELAYNET_TEST_CLOCK_SKEW_MS);
if (!Number.isFinite(skew)) {
  throw new Error(
    `RELAYNET_TEST_CLOCK_SKEW_MS must be a number of milliseconds (got "${process.env.RELAYNET_TEST_CLOCK_SKEW_MS}")`,
  );
}
const RealDate = Date;
const realNow = RealDate.now.bind(RealDate);
class SkewedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(realNow() + skew);
    else super(...args);
  }
  static now() {
    return realNow() + skew;
  }
}
Object.defineProperty(SkewedDate, 'name', { value: 'Date' });
// Calling Date() without new returns a string of the current time.
const DateFunction = new Proxy(SkewedDate, {
  apply: () => new SkewedDate().toString(),
});
globalThis.Date = DateFunction;
