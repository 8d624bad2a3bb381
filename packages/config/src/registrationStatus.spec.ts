import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  describeUserGatewayRegistration,
  parseRegistrationStatus,
  REGISTRATION_STATUS_FILE,
  RegistrationStatusFileError,
  serializeRegistrationStatus,
} from './registrationStatus';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'registration-status-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const socket = () => join(dir, 'cosocket.sock');
const publish = (text: string) => writeFileSync(join(dir, REGISTRATION_STATUS_FILE), text);

test('round trip', () => {
  const status = { registered: false, registrationDir: '/data/registration' };
  expect(parseRegistrationStatus(serializeRegistrationStatus(status))).toEqual(status);
});

test('bad files are refused with the reason and the file name', () => {
  for (const [text, reason] of [
    ['{', 'not JSON'],
    ['[]', 'the file must be an object'],
    ['{"registered": "no", "registrationDir": "/r"}', 'registered must be true or false'],
    ['{"registered": false}', 'registrationDir must be a non-empty string'],
    ['{"registered": false, "registrationDir": "/r", "more": 1}', 'unexpected field(s): more'],
    [`{"registered": false, "registrationDir": "${'x'.repeat(5000)}"}`, 'larger than 4096 octets'],
  ]) {
    expect(() => parseRegistrationStatus(text, 'the-file')).toThrow(
      new RegistrationStatusFileError(`the-file: ${reason}`),
    );
  }
});

test('what the user is told, beside either socket of the user gateway', () => {
  expect(describeUserGatewayRegistration(socket())).toBeNull(); // no file: nothing to say
  expect(describeUserGatewayRegistration(join(dir, 'missing', 'cosocket.sock'))).toBeNull();
  publish(serializeRegistrationStatus({ registered: true, registrationDir: '/r' }));
  expect(describeUserGatewayRegistration(socket())).toBeNull();
  publish(serializeRegistrationStatus({ registered: false, registrationDir: '/data/registration' }));
  expect(describeUserGatewayRegistration(socket())).toMatch(
    /^the user gateway is not registered with its relaying gateway yet, .* answers its request in \/data\/registration: the relaying gateway must be running/,
  );
  publish('{');
  expect(describeUserGatewayRegistration(socket())).toBe(
    `the user gateway's registration status cannot be read: ${join(dir, REGISTRATION_STATUS_FILE)}: not JSON`,
  );
});
