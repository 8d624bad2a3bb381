/**
 * Headless Chromium for the tests of the emulator's page: Debian's `chromium` driven by playwright-core, which
 * never downloads a browser. Without /usr/bin/chromium the browser tests are skipped with a notice, except under
 * CI (CI=true), where .ci/run installs it and a missing browser is a failure.
 */
import { existsSync } from 'node:fs';

import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags for a closed network: no background connections that the machine would refuse anyway. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH);
}

/** `describe` when Chromium can run the tests (or under CI, where its absence must fail), else a noted skip. */
export function describeWithChromium(name: string, body: () => void): void {
  if (chromiumAvailable() || process.env.CI) {
    describe(name, body);
  } else {
    console.warn(
      `Skipping "${name}": no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH)`,
    );
    describe.skip(name, body);
  }
}

/** A headless Chromium with a fresh temporary profile (playwright makes and removes it); close it when done. */
export async function launchChromium(): Promise<Browser> {
  if (!chromiumAvailable()) {
    throw new Error(
      `No Chromium at ${CHROMIUM_PATH}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}
