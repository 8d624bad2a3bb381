/** RS-003 channel sessions between a private and a public endpoint, parcels handed over directly. */
import { inspectEnvelopedData, Parcel } from '@twitter-relaynet/core';

import { createMemoryStores, ManualClock, PublicEndpoint, type IncomingMessage } from '../src';
import { ADAPTER_ADDRESS, makePair, text } from './helpers';

async function recipientKeyId(serialized: Buffer): Promise<string | null> {
  const kind = inspectEnvelopedData((await Parcel.deserialize(serialized)).payloadSerialized);
  return kind.kind === 'session' ? kind.recipientSessionKeyId.toString('hex') : null;
}

async function originatorKeyId(serialized: Buffer): Promise<string | null> {
  const kind = inspectEnvelopedData((await Parcel.deserialize(serialized)).payloadSerialized);
  return kind.kind === 'session' ? kind.originatorSessionKey.keyId.toString('hex') : null;
}

describe('Channel sessions', () => {
  test('sessionless first, then sessions whose keys rotate; old keys still decrypt late messages', async () => {
    // The app's clock moves a second between steps, so "newer" is unambiguous at RAMF's 1 s resolution.
    const appClock = new ManualClock();
    const { publicEndpoint, privateEndpoint, received, parameters, privateLogger } = await makePair({
      withSessionKey: false,
      privateOptions: { clock: appClock },
    });
    const tick = () => appClock.advance(1_000);
    const atPrivate: IncomingMessage[] = [];
    const toPrivate = async (parcel: Buffer) =>
      privateEndpoint.receiveParcel(parcel, async (m) => {
        atPrivate.push(m);
      });
    const authorization = await privateEndpoint.issuePda(publicEndpoint.certificate, new Date(Date.now() + 86_400_000));
    const reply = async (content: string) => {
      const queued = await publicEndpoint.sendMessage(text('text/plain', content), { authorization });
      const [entry] = (await publicEndpoint.stores.outbox.listDue(new Date(), 100)).filter(
        (e) => e.parcelId === queued.parcelId,
      );
      return { ...queued, parcel: entry.parcel };
    };

    // 1. Only the certificate is known on each side: sessionless both ways.
    const m1 = await privateEndpoint.makeParcel(ADAPTER_ADDRESS, text('text/plain', 'm1'));
    expect(m1.encryption).toBe('sessionless');
    expect(await publicEndpoint.receiveParcel(m1.parcel)).toMatchObject({ status: 'accepted' });
    expect(received[0].encryption).toBe('sessionless');
    const r1 = await reply('r1');
    expect(r1.encryption).toBe('sessionless');
    expect((await toPrivate(r1.parcel)).status).toBe('accepted');
    expect(atPrivate[0].encryption).toBe('sessionless');

    // 2. The app learns the published initial key: session from now on.
    await privateEndpoint.addPublicPeer(parameters);
    const initialKeyId = parameters.sessionKey!.keyId.toString('hex');
    const m2 = await privateEndpoint.makeParcel(ADAPTER_ADDRESS, text('text/plain', 'm2'));
    tick();
    const m2late = await privateEndpoint.makeParcel(ADAPTER_ADDRESS, text('text/plain', 'm2-late'));
    expect(m2.encryption).toBe('session');
    expect(await recipientKeyId(m2.parcel)).toBe(initialKeyId);
    expect((await publicEndpoint.receiveParcel(m2.parcel)).status).toBe('accepted');
    expect(received[1].encryption).toBe('session');

    // 3. The reply uses the private endpoint's key from m2 (the newest it has seen) and carries a new key.
    const r2 = await reply('r2');
    expect(r2.encryption).toBe('session');
    expect(await recipientKeyId(r2.parcel)).toBe(await originatorKeyId(m2.parcel));
    expect((await toPrivate(r2.parcel)).status).toBe('accepted');
    expect(atPrivate[1]).toMatchObject({ encryption: 'session' });
    expect(privateLogger.find('info', /Stored the peer's new session key/)).toHaveLength(1);

    // 4. The next message uses the public endpoint's new key, not the initial one.
    tick();
    const m3 = await privateEndpoint.makeParcel(ADAPTER_ADDRESS, text('text/plain', 'm3'));
    expect(await recipientKeyId(m3.parcel)).toBe(await originatorKeyId(r2.parcel));
    expect(await recipientKeyId(m3.parcel)).not.toBe(initialKeyId);
    expect((await publicEndpoint.receiveParcel(m3.parcel)).status).toBe('accepted');

    // 5. A late message made with the initial key still decrypts, and does not roll the peer key back.
    expect((await publicEndpoint.receiveParcel(m2late.parcel)).status).toBe('accepted');
    expect(received.map((m) => m.content.toString())).toEqual(['m1', 'm2', 'm3', 'm2-late']);
    const r3 = await reply('r3');
    expect(await recipientKeyId(r3.parcel)).toBe(await originatorKeyId(m3.parcel));
    expect((await toPrivate(r3.parcel)).status).toBe('accepted');

    // 6. The initial key rotates; messages to the old one still decrypt until it expires.
    const before = await publicEndpoint.getConnectionParameters();
    await publicEndpoint.rotateInitialSessionKey();
    const after = await publicEndpoint.getConnectionParameters();
    expect(after.sessionKey!.keyId.equals(before.sessionKey!.keyId)).toBe(false);
    const { privateEndpoint: newcomer } = await makePair();
    await newcomer.addPublicPeer(before);
    const old = await newcomer.makeParcel(ADAPTER_ADDRESS, text('text/plain', 'old initial key'));
    expect(await recipientKeyId(old.parcel)).toBe(before.sessionKey!.keyId.toString('hex'));
    expect((await publicEndpoint.receiveParcel(old.parcel)).status).toBe('accepted');
    await publicEndpoint.close();
  });

  test('a message to an expired session key is refused', async () => {
    const clock = new ManualClock();
    const publicEndpoint = await PublicEndpoint.open({
      stores: createMemoryStores(),
      internetAddress: ADAPTER_ADDRESS,
      onMessage: async () => undefined,
      clock,
      sessionKeyLifetimeMs: 60_000,
    });
    const { privateEndpoint } = await makePair();
    await privateEndpoint.addPublicPeer(await publicEndpoint.getConnectionParameters());
    const parcel = await privateEndpoint.makeParcel(publicEndpoint.id, text('text/plain', 'too late'));
    clock.advance(2 * 60_000);
    await publicEndpoint.runMaintenance();
    const outcome = await publicEndpoint.receiveParcel(parcel.parcel);
    expect(outcome.status).toBe('refused');
    expect(outcome.reason).toMatch(/unknown or expired/);
    await publicEndpoint.close();
  });

  test('a session key given to one peer cannot be used by another', async () => {
    const { publicEndpoint, privateEndpoint } = await makePair();
    // The private endpoint talks to the adapter, so the adapter's reply key is bound to it...
    const authorization = await privateEndpoint.issuePda(publicEndpoint.certificate, new Date(Date.now() + 86_400_000));
    await publicEndpoint.receiveParcel((await privateEndpoint.makeParcel(ADAPTER_ADDRESS, text('a', 'x'))).parcel);
    const queued = await publicEndpoint.sendMessage(text('a', 'reply'), { authorization });
    const [entry] = await publicEndpoint.stores.outbox.listDue(new Date(), 10);
    expect(entry.parcelId).toBe(queued.parcelId);
    expect(queued.encryption).toBe('session');
    const replyKeyId = await originatorKeyId(entry.parcel);
    const replyKey = await publicEndpoint.stores.keys.getSessionKey(Buffer.from(replyKeyId!, 'hex'), new Date());
    expect(replyKey?.peerId).toBe(privateEndpoint.id);
    await publicEndpoint.close();
  });

  test('a parcel never leaves before our new session key is stored, nor is one acknowledged before the peer key', async () => {
    const { publicEndpoint, privateEndpoint, received } = await makePair();
    const authorization = await privateEndpoint.issuePda(publicEndpoint.certificate, new Date(Date.now() + 86_400_000));
    const diskFull = () => Promise.reject(new Error('disk full'));

    // The private endpoint's key is committed while the parcel is signed: its failure fails makeParcel.
    const saveOwnKey = privateEndpoint.stores.keys.saveSessionKey;
    privateEndpoint.stores.keys.saveSessionKey = diskFull;
    await expect(privateEndpoint.makeParcel(ADAPTER_ADDRESS, text('a', 'lost key'))).rejects.toThrow('disk full');
    privateEndpoint.stores.keys.saveSessionKey = saveOwnKey;

    // The adapter stores the sender's new key alongside its dedup entry, after the app took the message: if the key
    // cannot be stored, the parcel is not acknowledged (the gateway delivers it again) and is not recorded as handled.
    const parcel = await privateEndpoint.makeParcel(ADAPTER_ADDRESS, text('a', 'x'));
    const saveIfNewer = publicEndpoint.stores.peerSessionKeys.saveIfNewer;
    publicEndpoint.stores.peerSessionKeys.saveIfNewer = diskFull;
    await expect(publicEndpoint.receiveParcel(parcel.parcel)).rejects.toThrow('disk full');
    publicEndpoint.stores.peerSessionKeys.saveIfNewer = saveIfNewer;
    expect(await publicEndpoint.receiveParcel(parcel.parcel)).toMatchObject({ status: 'accepted' });
    expect(received.map((m) => m.content.toString())).toEqual(['x', 'x']); // at least once

    // The adapter's key likewise: its failure fails sendMessage and nothing reaches the outbox.
    publicEndpoint.stores.keys.saveSessionKey = diskFull;
    await expect(publicEndpoint.sendMessage(text('a', 'reply'), { authorization })).rejects.toThrow('disk full');
    expect(await publicEndpoint.stores.outbox.listDue(new Date(), 10)).toEqual([]);
    await publicEndpoint.close();
  });
});
