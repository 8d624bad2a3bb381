import { createEmulatorClient, DEFAULT_CREDENTIALS, type RunningEmulator, startEmulator } from '../src';

async function postForm(url: string, fields: Record<string, string>): Promise<Response> {
  return fetch(`${url}/web/tweet`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
}

describe('web page', () => {
  let emulator: RunningEmulator;

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0 });
  });

  afterAll(async () => {
    await emulator.close();
  });

  test('lists every account, its tweets and the home timeline', async () => {
    const response = await fetch(`${emulator.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await response.text();
    expect(html).toContain('<!DOCTYPE html>');
    for (const username of ['relaynet_user', 'awala_news', 'courier_cat', 'offline_chef', 'not_followed']) {
      expect(html).toContain(`id="account-${username}"`);
    }
    expect(html).toContain('Delivered 3 flashdrives today. Paws are tired.');
    expect(html).toContain('Recipe of the day: lentil soup &amp; flatbread.');
    const home = html.slice(
      html.indexOf('id="home-timeline"'),
      html.indexOf('</section>', html.indexOf('id="home-timeline"')),
    );
    expect(home).toContain('Paws are tired');
    expect(home).not.toContain('You should not see this');
    expect(html).toContain('<form method="post" action="/web/tweet">');
  });

  test('posting the form as a followed account reaches the home timeline through the API', async () => {
    const text = 'Posted from the web form <b>bold</b> & "quoted"';
    const response = await postForm(emulator.url, { author: 'awala_news', text });
    expect(response.status).toBe(303);
    const location = response.headers.get('location')!;
    expect(location).toMatch(/^\/\?posted=\d+$/);
    const tweetId = location.split('=')[1];

    const page = await (await fetch(`${emulator.url}${location}`)).text();
    expect(page).toContain(`Posted tweet ${tweetId}`);
    expect(page).toContain('Posted from the web form &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;');

    const client = createEmulatorClient(emulator.url, DEFAULT_CREDENTIALS);
    const timeline = await client.v2.homeTimeline({ expansions: ['author_id'], 'user.fields': ['username'] });
    expect(timeline.tweets[0]).toMatchObject({ id: tweetId, text, author_id: '1746000000000000002' });
    expect(timeline.includes.author(timeline.tweets[0])?.username).toBe('awala_news');
  });

  test('shows a tweet containing <script> as text', async () => {
    await postForm(emulator.url, { author: 'courier_cat', text: '<script>alert("pwned")</script>' });
    const html = await (await fetch(`${emulator.url}/`)).text();
    expect(html).toContain('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;');
    expect(html).not.toContain('<script>');
  });

  test('reports refused posts on the page, escaped', async () => {
    await postForm(emulator.url, { author: 'offline_chef', text: 'Only once' });
    const duplicate = await postForm(emulator.url, { author: 'offline_chef', text: 'Only once' });
    expect(duplicate.status).toBe(303);
    const page = await (await fetch(`${emulator.url}${duplicate.headers.get('location')}`)).text();
    expect(page).toContain('You are not allowed to create a Tweet with duplicate content.');

    const unknown = await postForm(emulator.url, { author: '<nobody>', text: 'hi' });
    const unknownPage = await (await fetch(`${emulator.url}${unknown.headers.get('location')}`)).text();
    expect(unknownPage).toContain('No account @&lt;nobody&gt;');

    const tooLong = await postForm(emulator.url, { author: 'offline_chef', text: 'y'.repeat(281) });
    expect(tooLong.headers.get('location')).toContain('error=');
  });

  test('answers 404 for other pages', async () => {
    expect((await fetch(`${emulator.url}/nothing`)).status).toBe(404);
  });
});
