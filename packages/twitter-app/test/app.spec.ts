/** twitter-app's subscription upkeep, in process: the in-memory gateway double and a manual clock (months pass). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  createMemoryStores,
  deserializeDeliveryAuthorization,
  ManualClock,
  MemoryGatewayTransport,
  PublicEndpoint,
  type IncomingMessage,
} from '@twitter-relaynet/endpoint';

import { Parcel } from '@twitter-relaynet/core';

import { SUBSCRIPTION_TTL_SECONDS, TwitterApp, type AppPaths, type UserCredentials } from '../src';
import { decodeSubscription, UPDATE_SUBSCRIPTION_TYPE } from './service';

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
  const credentials: UserCredentials = { accessToken: 'token', accessSecret: 'secret', source: 'environment' };
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
    expect(await adapter.receiveParcel(gateway.delivered[gateway.delivered.length - 1], { gatewayAddress: null })).toMatchObject({
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

  test('a tweet and the subscription made while the clock was 3 days ahead are made again, dated now, same ids', async () => {
    const now = clock.now();
    clock.set(new Date(now.getTime() + 3 * DAY_MS));
    const ahead = await run(async (app) => ({
      subscription: await app.ensureSubscription({ force: true }),
      tweet: await app.queueTweet('made ahead'),
    }));
    clock.set(now); // set right
    const before = gateway.delivered.length;
    const after = await run(async (app) => ({ renewal: await app.ensureSubscription(), tweets: await app.redateTweetsMadeAhead() }));

    expect(after.renewal).toMatchObject({ action: 'renewed', reason: "it was made while this computer's clock was ahead" });
    // The same parcel id: it replaces the held-back copy at the user gateway.
    expect(after.renewal.record.parcelId).toBe(ahead.subscription.record.parcelId);
    expect(after.tweets).toEqual([
      expect.objectContaining({ id: ahead.tweet.id, parcelId: ahead.tweet.parcelId, state: 'sent', createdAt: now }),
    ]);
    const resent = await Promise.all(gateway.delivered.slice(before).map((parcel) => Parcel.deserialize(parcel)));
    expect(resent.map((parcel) => parcel.id)).toEqual([ahead.subscription.record.parcelId, ahead.tweet.parcelId]);
    for (const parcel of resent) expect(Math.abs(parcel.creationDate.getTime() - now.getTime())).toBeLessThan(1000);

    // Once is enough: nothing dated ahead is left.
    expect(await run((app) => app.redateTweetsMadeAhead())).toEqual([]);
    expect(gateway.delivered).toHaveLength(before + 2);
  });
});
