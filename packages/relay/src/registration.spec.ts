import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PlainReporter } from './output';
import {
  exitCodeWithRegistration,
  type RegistrationExchange,
  RegistrationRefusedError,
  runRegistrationLeg,
} from './registration';
import { ExitCode } from './output';

let drive: string;
let output: string;
beforeEach(() => {
  drive = mkdtempSync(join(tmpdir(), 'registration-leg-'));
  output = '';
});
afterEach(() => rmSync(drive, { recursive: true, force: true }));

function leg(side: 'user-gateway' | 'relayer-gateway', exchange: RegistrationExchange) {
  const [incoming, outgoing] = side === 'user-gateway' ? ['user-gw', 'relayer-gw'] : ['relayer-gw', 'user-gw'];
  return runRegistrationLeg(
    { side, incoming: join(drive, incoming), outgoing: join(drive, outgoing), exchange },
    { reporter: new PlainReporter({ write: (text: string) => (output += text) }) },
  );
}

test('a response is deleted only once the user gateway took it; one it could not take now stays', async () => {
  mkdirSync(join(drive, 'user-gw', 'registration'), { recursive: true });
  writeFileSync(join(drive, 'user-gw', 'registration', 'a.response'), 'response a');
  const failing = await leg('user-gateway', async () => Promise.reject(new Error('connection closed')));
  expect(failing.errors).toBe(1);
  expect(readdirSync(join(drive, 'user-gw', 'registration'))).toEqual(['a.response']);

  const presented: string[] = [];
  const taken = await leg('user-gateway', async (body) => {
    presented.push(body.toString());
    return body.length ? Buffer.alloc(0) : Buffer.from('the request');
  });
  expect(presented).toEqual(['response a', '']);
  expect(taken).toMatchObject({ responsesHandedIn: 1, requestsTaken: 1, errors: 0 });
  expect(readdirSync(join(drive, 'user-gw', 'registration'))).toEqual([]);
  const [request] = readdirSync(join(drive, 'relayer-gw', 'registration'));
  expect(readFileSync(join(drive, 'relayer-gw', 'registration', request), 'utf8')).toBe('the request');
});

test('the response is saved before the request goes, despite a temp file left by a killed run; a refused request is set aside', async () => {
  const requests = join(drive, 'relayer-gw', 'registration');
  mkdirSync(requests, { recursive: true });
  writeFileSync(join(requests, 'good.request'), 'good');
  writeFileSync(join(requests, 'bad.request'), 'bad');
  mkdirSync(join(drive, 'user-gw', 'registration'), { recursive: true });
  writeFileSync(join(drive, 'user-gw', 'registration', '.good.response.tmp'), 'half');
  const result = await leg('relayer-gateway', async (body) => {
    if (body.toString() === 'bad') throw new RegistrationRefusedError('tampered');
    return Buffer.from(`response to ${body.toString()}`);
  });
  expect(result).toEqual({ requestsTaken: 0, responsesSaved: 1, responsesHandedIn: 0, refused: 1, errors: 0 });
  expect(readFileSync(join(drive, 'user-gw', 'registration', 'good.response'), 'utf8')).toBe('response to good');
  expect(readdirSync(requests)).toEqual(['refused']);
  expect(output).toContain('bad.request: refused by the gateway: tampered');
});

test('a symlinked registration folder is refused, nothing in it read or presented', async () => {
  const elsewhere = join(drive, 'elsewhere');
  mkdirSync(elsewhere);
  writeFileSync(join(elsewhere, 'x.request'), 'x');
  mkdirSync(join(drive, 'relayer-gw'));
  symlinkSync(elsewhere, join(drive, 'relayer-gw', 'registration'));
  const presented: Buffer[] = [];
  const result = await leg('relayer-gateway', async (body) => {
    presented.push(body);
    return Buffer.from('r');
  });
  expect(result.errors).toBe(1);
  expect(presented).toEqual([]);
  expect(output).toContain('is a symbolic link, refused');
});

test('a run that only took the registration request onto the flashdrive did something (exit 0, not "nothing to do")', () => {
  const leg = { requestsTaken: 1, responsesSaved: 0, responsesHandedIn: 0, refused: 0, errors: 0 };
  expect(exitCodeWithRegistration(ExitCode.NOTHING_TO_DO, leg)).toBe(ExitCode.DONE);
  expect(exitCodeWithRegistration(ExitCode.NOTHING_TO_DO, { ...leg, requestsTaken: 0 })).toBe(ExitCode.NOTHING_TO_DO);
  expect(exitCodeWithRegistration(ExitCode.DONE, { ...leg, errors: 1 })).toBe(ExitCode.FAILURE);
});
