import { renderChildLine } from './render';

const originalTz = process.env.TZ;
beforeAll(() => (process.env.TZ = 'UTC'));
afterAll(() => (originalTz === undefined ? delete process.env.TZ : (process.env.TZ = originalTz)));

const NOW = new Date('2026-12-07T09:08:07Z');
const JSON_LINE = JSON.stringify({
  time: '2026-12-07T14:13:02.596Z',
  level: 'info',
  component: 'user-gateway',
  msg: 'Registered with the relaying gateway',
  relayingGatewayId: '0bb6f5741b330b77a540a4d4693556cf2ff8e02ccf8bc15b86cd2cea67afeed26',
  expiryDate: '2027-06-05T14:13:01.000Z',
});

describe('for files and pipes (json)', () => {
  test('every line is passed on as it is, after the process name', () => {
    expect(renderChildLine('user-gateway', 14, JSON_LINE, 'json', NOW)).toBe(`user-gateway   | ${JSON_LINE}`);
    expect(renderChildLine('relay', 7, 'relay: ready', 'json', NOW)).toBe('relay   | relay: ready');
  });
});

describe('for a terminal (human)', () => {
  test('a JSON log line becomes its time, the process, the message and the ids that matter', () => {
    expect(renderChildLine('user-gateway', 14, JSON_LINE, 'human', NOW)).toBe(
      '14:13:02 user-gateway   | Registered with the relaying gateway',
    );
    const cargo = JSON.stringify({
      time: '2026-12-07T14:13:30.553Z',
      level: 'info',
      component: 'relayer-gateway',
      msg: 'Parcel stored',
      cargoId: 'adc02eb9-e224-490d-8278-fc30339d0744',
      parcelId: 'b52700f0-79fa-42ee-a174-987033c4948f',
      senderId: '022596d684ddd53310c5e3c6ca7ac1a4c664044348fd6b93b1f828dbeea937513',
    });
    expect(renderChildLine('relayer-gateway', 15, cargo, 'human', NOW)).toBe(
      '14:13:30 relayer-gateway | Parcel stored  cargoId=adc02eb9-e224-490d-8278-fc30339d0744 parcelId=b52700f0-79fa-42ee-a174-987033c4948f',
    );
  });

  test('a warning keeps its details, and a library logging under its own name is named', () => {
    const line = JSON.stringify({
      time: '2026-12-07T00:00:01Z',
      level: 'warn',
      component: 'pogrpc',
      msg: 'Call failed',
      target: '127.0.0.1:1',
    });
    expect(renderChildLine('twitter-api-adapter', 19, line, 'human', NOW)).toBe(
      '00:00:01 twitter-api-adapter | [pogrpc] WARN Call failed  target=127.0.0.1:1',
    );
  });

  test('a banner line gets the time it arrived and loses the process name it repeats', () => {
    expect(renderChildLine('user-gateway', 12, 'user-gateway: ready', 'human', NOW)).toBe(
      '09:08:07 user-gateway | ready',
    );
    expect(renderChildLine('x-api-emulator', 14, '  web page: http://127.0.0.1:8085/', 'human', NOW)).toBe(
      '09:08:07 x-api-emulator |   web page: http://127.0.0.1:8085/',
    );
  });

  test("a line that starts with its own UTC time (the emulator's requests) shows that time", () => {
    expect(renderChildLine('x-api-emulator', 14, '2026-12-07T14:13:30.653Z 201 POST /2/tweets', 'human', NOW)).toBe(
      '14:13:30 x-api-emulator | 201 POST /2/tweets',
    );
  });

  test('a line that only looks like JSON is shown as it is', () => {
    expect(renderChildLine('adapter', 7, '{"half": ', 'human', NOW)).toBe('09:08:07 adapter | {"half": ');
  });
});
