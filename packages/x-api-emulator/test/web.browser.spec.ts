/**
 * The emulator's page in headless Chromium, used as a person would: read the timelines, post with the form.
 */
import type { Browser, Page } from 'playwright-core';

import { createEmulatorClient, DEFAULT_CREDENTIALS, DEFAULT_USER, type RunningEmulator, startEmulator } from '../src';
import { describeWithChromium, launchChromium } from './browser';

jest.setTimeout(30_000);

describeWithChromium('the web page in headless Chromium', () => {
  let emulator: RunningEmulator;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0 });
    browser = await launchChromium();
  });

  beforeEach(async () => {
    page = await browser.newPage();
  });

  afterEach(async () => {
    await page.close();
  });

  afterAll(async () => {
    await browser?.close();
    await emulator?.close();
  });

  const homeTimelineTexts = () => page.locator('#home-timeline li.tweet .text').allTextContents();

  test('shows every account with its tweets, and the home timeline of the user', async () => {
    await page.goto(`${emulator.url}/`);
    expect(await page.title()).toBe('X API emulator');
    await expect(page.locator('header h1').textContent()).resolves.toContain(`@${DEFAULT_USER.username}`);
    for (const username of ['relaynet_user', 'awala_news', 'courier_cat', 'offline_chef', 'not_followed']) {
      expect(await page.locator(`#account-${username} h2`).isVisible()).toBe(true);
    }
    expect(await page.locator('#tweets-courier_cat .text').allTextContents()).toContain('Delivered 3 flashdrives today. Paws are tired.');
    const home = await homeTimelineTexts();
    expect(home).toContain('Recipe of the day: lentil soup & flatbread.');
    // Accounts the user does not follow stay out of the home timeline.
    const notFollowed = await page.locator('#tweets-not_followed .text').allTextContents();
    expect(notFollowed.length).toBeGreaterThan(0);
    for (const text of notFollowed) expect(home).not.toContain(text);
  });

  test('a tweet posted through the API shows on the page', async () => {
    const client = createEmulatorClient(emulator.url, DEFAULT_CREDENTIALS);
    const { data } = await client.v2.tweet('Posted through the API, seen in a browser');
    await page.goto(`${emulator.url}/`);
    const item = page.locator(`#home-timeline li[data-tweet-id="${data.id}"]`);
    expect(await item.getAttribute('data-author')).toBe(DEFAULT_USER.username);
    expect(await item.locator('.text').textContent()).toBe('Posted through the API, seen in a browser');
  });

  test('posting with the form as a followed account shows the tweet and puts it in the home timeline of the API', async () => {
    await page.goto(`${emulator.url}/`);
    await page.selectOption('#author', 'courier_cat');
    await page.fill('#text', 'Typed into the form <b>by a cat</b> & sent');
    await Promise.all([page.waitForURL(/\?posted=\d+$/), page.click('#compose button[type="submit"]')]);
    const status = await page.locator('[role="status"]').textContent();
    const tweetId = /Posted tweet (\d+)/.exec(status ?? '')?.[1];
    expect(tweetId).toBeDefined();
    expect((await homeTimelineTexts())[0]).toBe('Typed into the form <b>by a cat</b> & sent');

    const client = createEmulatorClient(emulator.url, DEFAULT_CREDENTIALS);
    const timeline = await client.v2.homeTimeline({ expansions: ['author_id'], 'user.fields': ['username'] });
    expect(timeline.tweets[0]).toMatchObject({ id: tweetId, text: 'Typed into the form <b>by a cat</b> & sent' });
    expect(timeline.includes.author(timeline.tweets[0])?.username).toBe('courier_cat');
  });

  test('a tweet that cannot be posted shows a clear error on the page and posts nothing', async () => {
    const client = createEmulatorClient(emulator.url, DEFAULT_CREDENTIALS);
    const newestBefore = (await client.v2.homeTimeline()).tweets[0].id;
    await page.goto(`${emulator.url}/`);
    await page.selectOption('#author', 'awala_news');
    await page.fill('#text', 'x'.repeat(281));
    await Promise.all([page.waitForURL(/\?error=/), page.click('#compose button[type="submit"]')]);
    expect(await page.locator('[role="alert"]').textContent()).toMatch(/too long/i);
    expect((await client.v2.homeTimeline()).tweets[0].id).toBe(newestBefore);
    expect(await page.locator('#tweets-awala_news .text').allTextContents()).not.toContain('x'.repeat(281));
  });
});
