/** The emulator's web page: every account's tweets, the user's home timeline, and a form to tweet as anyone. */
import type { Store, Tweet, User } from './store';

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const PAGE_TWEETS = 50;

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 0; background: #f7f9f9; color: #0f1419; }
header { background: #000; color: #fff; padding: 12px 24px; }
header h1 { margin: 0; font-size: 20px; }
main { display: grid; grid-template-columns: minmax(320px, 600px) minmax(280px, 1fr); gap: 24px; padding: 24px; }
section { background: #fff; border: 1px solid #eff3f4; border-radius: 12px; padding: 12px 16px; margin-bottom: 16px; }
h2 { font-size: 18px; margin: 4px 0 12px; }
ol.tweets { list-style: none; padding: 0; margin: 0; }
ol.tweets li { border-top: 1px solid #eff3f4; padding: 10px 0; }
.who { font-weight: 600; } .handle, time, .id { color: #536471; font-size: 13px; }
.text { white-space: pre-wrap; margin-top: 4px; overflow-wrap: anywhere; }
form label { display: block; font-weight: 600; margin: 8px 0 4px; }
form textarea { width: 100%; box-sizing: border-box; min-height: 80px; font: inherit; }
.error { background: #fde8ea; color: #a4000f; padding: 8px 12px; border-radius: 8px; }
.ok { background: #e6f6ec; color: #0b5c2a; padding: 8px 12px; border-radius: 8px; }
`;

function renderTweets(tweets: readonly Tweet[], users: ReadonlyMap<string, User>, listId: string): string {
  if (tweets.length === 0) return `<p id="${listId}-empty">No tweets yet.</p>`;
  const items = tweets.map((tweet) => {
    const author = users.get(tweet.authorId);
    const name = escapeHtml(author?.name ?? 'unknown');
    const handle = escapeHtml(author?.username ?? tweet.authorId);
    return (
      `<li class="tweet" data-tweet-id="${tweet.id}" data-author="${handle}">` +
      `<span class="who">${name}</span> <span class="handle">@${handle}</span> · ` +
      `<time datetime="${tweet.createdAt.toISOString()}">${tweet.createdAt.toISOString().replace('T', ' ').slice(0, 19)} UTC</time>` +
      ` <span class="id">#${tweet.id}</span>` +
      `<div class="text">${escapeHtml(tweet.text)}</div></li>`
    );
  });
  return `<ol class="tweets" id="${listId}">${items.join('')}</ol>`;
}

export interface PageMessages {
  readonly error?: string;
  readonly posted?: string;
  /** The account the form had last (preselected when it is one of the choices). */
  readonly author?: string;
  /** The text of a tweet that was refused, shown again in the form. */
  readonly text?: string;
}

export function renderHomePage(store: Store, messages: PageMessages = {}): string {
  const me = store.me()!;
  const users = store.users();
  const byId = new Map(users.map((u) => [u.id, u]));
  const followed = store.following(me.id);
  const others = users.filter((u) => u.id !== me.id);
  const followedIds = new Set(followed.map((u) => u.id));

  const options = others
    .map((u) => {
      const label = `${u.name} (@${u.username})${followedIds.has(u.id) ? '' : ' (not followed)'}`;
      const selected = u.username === messages.author ? ' selected' : '';
      return `<option value="${escapeHtml(u.username)}"${selected}>${escapeHtml(label)}</option>`;
    })
    .join('');
  const notices =
    (messages.error ? `<p class="error" role="alert">${escapeHtml(messages.error)}</p>` : '') +
    (messages.posted ? `<p class="ok" role="status">Posted tweet ${escapeHtml(messages.posted)}.</p>` : '');

  const accountSections = users
    .map((u) => {
      const tag = u.id === me.id ? ' (you)' : followedIds.has(u.id) ? ' (followed)' : ' (not followed)';
      return (
        `<section class="account" id="account-${escapeHtml(u.username)}">` +
        `<h2>${escapeHtml(u.name)} <span class="handle">@${escapeHtml(u.username)}${tag}</span></h2>` +
        renderTweets(store.tweetsBy(u.id, PAGE_TWEETS), byId, `tweets-${escapeHtml(u.username)}`) +
        `</section>`
      );
    })
    .join('');

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>X API emulator</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>X API emulator · signed in as @${escapeHtml(me.username)}</h1></header>
<main>
<div>
${notices}
<section id="compose">
<h2>Post as another account</h2>
<form method="post" action="/web/tweet">
<label for="author">Account</label>
<select id="author" name="author">${options}</select>
<label for="text">Tweet text (up to 280 characters)</label>
<textarea id="text" name="text" required placeholder="What is happening?!">${escapeHtml(messages.text ?? '')}</textarea>
<button type="submit">Post</button>
</form>
</section>
<section id="home">
<h2>Home timeline of @${escapeHtml(me.username)}</h2>
${renderTweets(store.homeTimeline(me.id, { limit: PAGE_TWEETS }), byId, 'home-timeline')}
</section>
</div>
<div>
${accountSections}
</div>
</main>
</body>
</html>
`;
}
