/** twitter-app's subscription upkeep, in process: the in-memory gateway double and a manual clock (months pass). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  createMemoryStores,
  deserializeDeliveryAuthorization,
  ManualClock,
  PublicEndpoint,
  type IncomingMessage,
} from '@twitter-relaynet/endpoint';
import { MemoryGatewayTransport } from '@twitter-relaynet/test-support/endpoint';

import { Parcel } from '@twitter-relaynet/core';

import { SUBSCRIPTION_TTL_SECONDS, TwitterApp, type AppPaths, type LoadedCredentials } from '../src';
import { decodeSubscription, decodeTweet, UPDATE_SUBSCRIPTION_TYPE } from './service';

const DAY_MS = 86_400_000;

describe('TwitterApp subscription upkeep', () => {
  const dir = mkdtempSync(join(tmpdir(), 'twitter-app-app-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const paths: AppPaths = {
    dataRoot: dir,
    dataDir: join(dir, 'twitter-app'),
    gatewaySocket: join(dir, 'unused.sock'),
    adapterParameters: join(dir, 'connection-parameters.json'),
    envFile: join(dir, '.env'),
  };
  const credentials: LoadedCredentials = { accessToken: 'token', accessSecret: 'secret', source: 'environment' };
  let gateway: MemoryGatewayTransport;
  let adapter: PublicEndpoint;
  const received: IncomingMessage[] = [];
  const clock = new ManualClock(new Date());

  beforeAll(async () => {
    gateway = await MemoryGatewayTransport.create();
    adapter = await PublicEndpoint.open({
      stores: createMemoryStores(),
      internetAddress: 'twitter-api-adapter.relaynet.local',
      clock,
      onMessage: async (message) => {
        received.push(message);
      },
    });
    await adapter.publishConnectionParameters(paths.adapterParameters);
  });
  afterAll(() => adapter.close());

  async function run<T>(work: (app: TwitterApp) => Promise<T>, creds = credentials): Promise<T> {
    // The adapter keeps publishing fresh initial session keys (weekly); the app reads them at each run.
    await adapter.rotateInitialSessionKey();
    await adapter.publishConnectionParameters(paths.adapterParameters);
    const app = await TwitterApp.open({ paths, credentials: creds, transport: gateway, clock });
    try {
      await app.register();
      return await work(app);
    } finally {
      await app.close();
    }
  }

  async function lastSubscription() {
    const before = received.length;
    expect(
      await adapter.receiveParcel(gateway.delivered[gateway.delivered.length - 1], { gatewayAddress: null }),
    ).toMatchObject({
      status: 'accepted',
    });
    expect(received).toHaveLength(before + 1);
    const message = received[received.length - 1];
    expect(message.type).toBe(UPDATE_SUBSCRIPTION_TYPE);
    return decodeSubscription(message.content);
  }

  test('subscribes once for as long as the protocol allows, and not again while current', async () => {
    const result = await run((app) => app.ensureSubscription());
    expect(result.action).toBe('subscribed');
    expect(gateway.delivered).toHaveLength(1);
    const subscription = await lastSubscription();
    expect(subscription).toMatchObject({ accessToken: 'token', accessSecret: 'secret' });
    const { pda } = deserializeDeliveryAuthorization(subscription.pda);
    expect(pda.calculateSubjectId()).toBe(adapter.id);
    // 180 days (the RAMF maximum), capped at the endpoint certificate the gateway issued (180 days here).
    const days = (pda.expiryDate.getTime() - clock.now().getTime()) / DAY_MS;
    expect(days).toBeGreaterThan(179);
    expect(days).toBeLessThanOrEqual(SUBSCRIPTION_TTL_SECONDS / 86_400);

    clock.advance(100 * DAY_MS); // more than a third left
    expect((await run((app) => app.ensureSubscription())).action).toBe('current');
    expect(gateway.delivered).toHaveLength(1);
  });

  test('renews when less than a third of the subscription remains', async () => {
    clock.advance(25 * DAY_MS); // day 125 of ~180: 55 days left < 60
    const result = await run((app) => app.ensureSubscription());
    expect(result).toMatchObject({ action: 'renewed', reason: 'less than a third of the subscription remains' });
    expect(gateway.delivered).toHaveLength(2);
    const { pda } = deserializeDeliveryAuthorization((await lastSubscription()).pda);
    expect(pda.expiryDate.getTime()).toBeGreaterThan(clock.now().getTime() + 50 * DAY_MS);
  });

  test('renews when the credentials change (the adapter needs the new ones)', async () => {
    const result = await run((app) => app.ensureSubscription(), { ...credentials, accessToken: 'new-token' });
    expect(result).toMatchObject({ action: 'renewed', reason: 'the X credentials changed' });
    expect(await lastSubscription()).toMatchObject({ accessToken: 'new-token' });
  });

  test('tweets and the subscription made while the clock was 3 days ahead are made again, dated now, same ids', async () => {
    const now = clock.now();
    clock.set(new Date(now.getTime() + 3 * DAY_MS));
    const ahead = await run(async (app) => {
      const subscription = await app.ensureSubscription({ force: true });
      // Saved as text, then given its parcel (dated ahead) and to the gateway, which holds it back.
      const given = app.saveTweet('given ahead');
      expect((await app.sendQueuedTweets()).sent.map((tweet) => tweet.id)).toEqual([given.id]);
      // Saved as text only: its parcel is made after the clock is set right.
      const saved = app.saveTweet('saved ahead');
      return { subscription, given: app.store.getTweet(given.id)!, saved };
    });
    expect(ahead.given).toMatchObject({ state: 'sent', parcelId: expect.any(String) });
    expect(ahead.saved.parcelId).toBeNull();
    clock.set(now); // set right
    const before = gateway.delivered.length;
    const after = await run(async (app) => ({
      renewal: await app.ensureSubscription(),
      report: await app.sendQueuedTweets(),
    }));

    expect(after.renewal).toMatchObject({
      action: 'renewed',
      reason: "it was made while this computer's clock was ahead",
    });
    // The same parcel ids: they replace the held-back copies at the user gateway.
    expect(after.renewal.record.parcelId).toBe(ahead.subscription.record.parcelId);
    expect(after.report.redated.map((tweet) => tweet.id)).toEqual([ahead.given.id, ahead.saved.id]);
    expect(after.report.sent).toEqual([
      expect.objectContaining({ id: ahead.given.id, parcelId: ahead.given.parcelId, state: 'sent', createdAt: now }),
      expect.objectContaining({ id: ahead.saved.id, parcelId: expect.any(String), state: 'sent', createdAt: now }),
    ]);
    expect(after.report).toMatchObject({ queued: 0, problem: null });
    const resent = gateway.delivered.slice(before);
    const parcels = await Promise.all(resent.map((parcel) => Parcel.deserialize(parcel)));
    expect(parcels.map((parcel) => parcel.id)).toEqual([
      ahead.subscription.record.parcelId,
      ahead.given.parcelId,
      after.report.sent[1].parcelId,
    ]);
    for (const parcel of parcels) expect(Math.abs(parcel.creationDate.getTime() - now.getTime())).toBeLessThan(1000);
    // The tweets themselves are dated now too, for the adapter.
    const received0 = received.length;
    for (const parcel of resent.slice(1)) {
      expect(await adapter.receiveParcel(parcel, { gatewayAddress: null })).toMatchObject({ status: 'accepted' });
    }
    expect(received.slice(received0).map((message) => decodeTweet(message.content))).toEqual([
      expect.objectContaining({ id: ahead.given.id, text: 'given ahead', creationDate: now }),
      expect.objectContaining({ id: ahead.saved.id, text: 'saved ahead', creationDate: now }),
    ]);

    // Once is enough: nothing dated ahead is left, nothing queued.
    expect(await run((app) => app.sendQueuedTweets())).toMatchObject({ redated: [], sent: [] });
    expect(gateway.delivered).toHaveLength(before + 3);
  });
});
