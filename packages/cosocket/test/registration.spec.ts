/**
 * The registration exchange extension (packets 0x12 and 0x13): a relayer presents a body, the gateway
 * answers, refuses it for good with a reason, or (not knowing the extension) quits with invalid-packet.
 */
import {
  CoSocketQuitError,
  CoSocketRefusalError,
  encodePacket,
  MAX_REGISTRATION_BODY_LENGTH,
  PacketDecoder,
  PacketTag,
  QuitReason,
  RefusalDisposition,
  RegistrationStatus,
} from '../src';
import { socketFixture } from './helpers';

const { startServer, connect, closeAll } = socketFixture();

test('answers, refusals and further exchanges on the same connection', async () => {
  await startServer({
    onRegistrationExchange: async (body) => {
      if (body.toString() === 'bad') throw new CoSocketRefusalError('tampered', RefusalDisposition.FINAL);
      return Buffer.from(`answer to ${body.toString() || '(empty)'}`);
    },
  });
  const client = await connect();
  expect((await client.exchangeRegistration(Buffer.alloc(0))).toString()).toBe('answer to (empty)');
  await expect(client.exchangeRegistration(Buffer.from('bad'))).rejects.toThrow(
    new CoSocketRefusalError('tampered', RefusalDisposition.FINAL),
  );
  expect((await client.exchangeRegistration(Buffer.from('request'))).toString()).toBe('answer to request');
});

test('a gateway without the extension quits with invalid-packet; one that fails quits with internal-error', async () => {
  await startServer({});
  const client = await connect();
  const error = await client.exchangeRegistration(Buffer.from('request')).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(CoSocketQuitError);
  expect((error as CoSocketQuitError).quitReason).toBe(QuitReason.INVALID_PACKET);

  await closeAll();
  await startServer({ onRegistrationExchange: async () => Promise.reject(new Error('disk full')) });
  const second = await connect();
  const failure = await second.exchangeRegistration(Buffer.from('request')).catch((e: unknown) => e);
  expect((failure as CoSocketQuitError).quitReason).toBe(QuitReason.INTERNAL_ERROR);
});

test('framing: round trip, and oversized bodies or unknown statuses are protocol errors', () => {
  const packet = {
    tag: PacketTag.REGISTRATION_RESULT,
    status: RegistrationStatus.REFUSED,
    body: Buffer.from('why'),
  } as const;
  expect(new PacketDecoder().push(Buffer.concat(encodePacket(packet)))).toEqual([packet]);
  const header = Buffer.alloc(6);
  header.writeUInt16LE(PacketTag.REGISTRATION_EXCHANGE, 0);
  header.writeUInt32LE(MAX_REGISTRATION_BODY_LENGTH + 1, 2);
  expect(() => new PacketDecoder().push(header)).toThrow(/exceeds the limit/);
  const badStatus = Buffer.concat(encodePacket(packet));
  badStatus[2] = 7;
  expect(() => new PacketDecoder().push(badStatus)).toThrow(/Unknown registration status/);
});
