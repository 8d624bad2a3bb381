/**
 * The emulator's page in headless Chromium, used as a person would: read the timelines, post with the form.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Browser, Page } from 'playwright-core';

import { createEmulatorClient, DEFAULT_CREDENTIALS, DEFAULT_USER, type RunningEmulator, startEmulator } from '../src';
import { describeWithChromium, launchChromium } from '@twitter-relaynet/test-support/browser';

jest.setTimeout(15_000);

describeWithChromium('the web page in headless Chromium', () => {
  let dataDir: string | undefined;
  let emulator: RunningEmulator | undefined;
  let browser: Browser | undefined;
  let page: Page;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'x-emulator-browser-'));
    emulator = await startEmulator({ port: 0, dataDir });
    browser = await launchChromium();
  });

  beforeEach(async () => {
    page = await browser!.newPage();
  });

  afterEach(async () => {
    await page?.close();
  });

  // Each step runs even when an earlier one (or beforeAll) failed, so no Chromium or server outlives the file.
  afterAll(async () => {
    try {
      await browser?.close();
    } finally {
      try {
        await emulator?.close();
      } finally {
        if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      }
    }
  });

  const url = () => emulator!.url;

  const homeTimelineTexts = () => page.locator('#home-timeline li.tweet .text').allTextContents();

  test('shows every account with its tweets, and the home timeline of the user', async () => {
    await page.goto(`${url()}/`);
    expect(await page.title()).toBe('X API emulator');
    await expect(page.locator('header h1').textContent()).resolves.toContain(`@${DEFAULT_USER.username}`);
    for (const username of ['relaynet_user', 'awala_news', 'courier_cat', 'offline_chef', 'not_followed']) {
      expect(await page.locator(`#account-${username} h2`).isVisible()).toBe(true);
    }
    expect(await page.locator('#tweets-courier_cat .text').allTextContents()).toContain(
      'Delivered 3 flashdrives today. Paws are tired.',
    );
    const home = await homeTimelineTexts();
    expect(home).toContain('Recipe of the day: lentil soup & flatbread.');
    // Accounts the user does not follow stay out of the home timeline.
    const notFollowed = await page.locator('#tweets-not_followed .text').allTextContents();
    expect(notFollowed.length).toBeGreaterThan(0);
    for (const text of notFollowed) expect(home).not.toContain(text);
  });

  test('a tweet posted through the API shows on the page', async () => {
    const client = createEmulatorClient(url(), DEFAULT_CREDENTIALS);
    const { data } = await client.v2.tweet('Posted through the API, seen in a browser');
    await page.goto(`${url()}/`);
    const item = page.locator(`#home-timeline li[data-tweet-id="${data.id}"]`);
    expect(await item.getAttribute('data-author')).toBe(DEFAULT_USER.username);
    expect(await item.locator('.text').textContent()).toBe('Posted through the API, seen in a browser');
  });

  test('posting with the form as a followed account shows the tweet and puts it in the home timeline of the API', async () => {
    await page.goto(`${url()}/`);
    await page.selectOption('#author', 'courier_cat');
    await page.fill('#text', 'Typed into the form <b>by a cat</b> & sent');
    await Promise.all([page.waitForURL(/\?posted=\d+$/), page.click('#compose button[type="submit"]')]);
    const status = await page.locator('[role="status"]').textContent();
    const tweetId = /Posted tweet (\d+)/.exec(status ?? '')?.[1];
    expect(tweetId).toBeDefined();
    expect((await homeTimelineTexts())[0]).toBe('Typed into the form <b>by a cat</b> & sent');

    const client = createEmulatorClient(url(), DEFAULT_CREDENTIALS);
    const timeline = await client.v2.homeTimeline({ expansions: ['author_id'], 'user.fields': ['username'] });
    expect(timeline.tweets[0]).toMatchObject({ id: tweetId, text: 'Typed into the form <b>by a cat</b> & sent' });
    expect(timeline.includes.author(timeline.tweets[0])?.username).toBe('courier_cat');
  });

  test('the form keeps the account chosen for the next tweet, and a refused tweet keeps its text', async () => {
    await page.goto(`${url()}/`);
    const first = await page.locator('#author').inputValue();
    const other = first === 'offline_chef' ? 'awala_news' : 'offline_chef';
    await page.selectOption('#author', other);
    await page.fill('#text', 'First of two as the same account');
    await Promise.all([page.waitForURL(/\?posted=\d+$/), page.click('#compose button[type="submit"]')]);
    expect(await page.locator('#author').inputValue()).toBe(other);
    expect(await page.locator('#text').inputValue()).toBe('');
    // Still chosen on a page opened afresh.
    await page.goto(`${url()}/`);
    expect(await page.locator('#author').inputValue()).toBe(other);

    const tooLong = 'Too long for X, and typed by hand. '.repeat(9); // 315 characters
    await page.fill('#text', tooLong);
    await Promise.all([page.waitForURL(/\?error=/), page.click('#compose button[type="submit"]')]);
    expect(await page.locator('[role="alert"]').textContent()).toMatch(/too long/i);
    expect(await page.locator('#author').inputValue()).toBe(other);
    expect(await page.locator('#text').inputValue()).toBe(tooLong);
  });

  /** Submits the form with values the browser itself would refuse (required, the select's options) set anyway. */
  async function submitRaw(author: string, text: string): Promise<void> {
    await page.goto(`${url()}/`);
    await page.evaluate(
      ([a, t]) => {
        const form = document.querySelector<HTMLFormElement>('#compose form')!;
        form.noValidate = true;
        const select = form.querySelector<HTMLSelectElement>('#author')!;
        select.add(new Option(a, a));
        select.value = a;
        form.querySelector<HTMLTextAreaElement>('#text')!.value = t;
      },
      [author, text] as const,
    );
    // Wait for either outcome, so that a tweet wrongly posted fails the assertion below rather than a timeout.
    await Promise.all([page.waitForURL(/\?(error|posted)=/), page.click('#compose button[type="submit"]')]);
    expect(new URL(page.url()).searchParams.has('error')).toBe(true);
  }

  test.each([
    ['text over 280 characters', 'awala_news', 'x'.repeat(281), /too long/i],
    ['empty text', 'courier_cat', '   ', /Post text is required/],
    ['an unknown author', 'nobody_here', 'Who am I?', /No account @nobody_here/],
  ])('%s shows a clear error on the page and posts nothing', async (_name, author, text, message) => {
    const client = createEmulatorClient(url(), DEFAULT_CREDENTIALS);
    const newestBefore = (await client.v2.homeTimeline()).tweets[0].id;
    await submitRaw(author, text);
    expect(await page.locator('[role="alert"]').textContent()).toMatch(message);
    expect(await page.locator('[role="status"]').count()).toBe(0);
    expect((await client.v2.homeTimeline()).tweets[0].id).toBe(newestBefore);
    for (const shown of await page.locator('.tweet .text').allTextContents()) expect(shown).not.toBe(text);
  });
});
