/** How twitter-app prints tweets, outcomes and status (plain text, one item per block, stable for scripts). */
import type {
  OutcomeRecord,
  OutgoingTweet,
  StatusCounts,
  SubscriptionRecord,
  SubscriptionStatusRecord,
  TimelineTweet,
} from './store';

export function formatDate(date: Date | null): string {
  if (!date) return 'unknown date';
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

export function formatTimelineTweet(tweet: TimelineTweet): string {
  const author = tweet.authorName ? `${tweet.authorName} (@${tweet.authorUsername})` : `@${tweet.authorUsername}`;
  return `  ${author} · ${formatDate(tweet.createdAt)}\n${indent(tweet.text)}\n`;
}

function quote(text: string | null | undefined): string {
  if (!text) return 'a tweet';
  const oneLine = text.replace(/\s+/g, ' ');
  return `"${oneLine.length > 60 ? `${oneLine.slice(0, 59)}…` : oneLine}"`;
}

export function formatOutcome(outcome: OutcomeRecord): string {
  if (outcome.status === 'posted') {
    return `  posted ${quote(outcome.text)}${outcome.xUrl ? `: ${outcome.xUrl}` : outcome.xTweetId ? ` (id ${outcome.xTweetId})` : ''}\n`;
  }
  if (outcome.status === 'waiting') return `  waiting ${quote(outcome.text)}: ${waitingForX(outcome.reason)}\n`;
  return `  FAILED ${quote(outcome.text)}: ${outcome.reason ?? 'no reason given'}\n`;
}

/** The adapter's word that it holds something but could not reach the X API yet. */
function waitingForX(reason: string | null): string {
  return `waiting for the X API, which the Twitter API adapter could not reach yet (${reason ?? 'no reason given'}); it keeps trying`;
}

export function formatSubscriptionStatus(status: SubscriptionStatusRecord): string {
  if (status.state === 'active') return `The Twitter API adapter confirmed your subscription to the home timeline.\n`;
  if (status.state === 'waiting') return `Your subscription to the home timeline is ${waitingForX(status.reason)}.\n`;
  return (
    `Your subscription to the home timeline FAILED: ${status.reason ?? 'no reason given'}` +
    `${status.httpStatus ? ` (HTTP ${status.httpStatus})` : ''}. Check TWITTER_ACCESS_TOKEN_KEY and ` +
    'TWITTER_ACCESS_TOKEN_SECRET, then run twitter-app subscribe.\n'
  );
}

export function formatNewItems(
  tweets: readonly TimelineTweet[],
  outcomes: readonly OutcomeRecord[],
  subscriptionStatus: SubscriptionStatusRecord | null = null,
): string {
  let out = subscriptionStatus ? formatSubscriptionStatus(subscriptionStatus) : '';
  if (outcomes.length > 0) {
    out += `Outcomes of your tweets (${outcomes.length}):\n${outcomes.map(formatOutcome).join('')}`;
  }
  if (tweets.length > 0) {
    out += `New tweets in your home timeline (${tweets.length}):\n${tweets.map(formatTimelineTweet).join('')}`;
  }
  if (out === '') out = 'No new tweets or outcomes since the last run.\n';
  return out;
}

/**
 * How each state reads: `sent` only means the user gateway took the parcel (the courier has not carried it yet), so
 * it is not called "sent" (the store and `status --json` keep the state's name).
 */
const STATE_LABELS: Record<OutgoingTweet['state'], string> = {
  queued: 'queued',
  sent: 'on its way',
  confirmed: 'confirmed',
  failed: 'failed',
};
const LABEL_WIDTH = Math.max(...Object.values(STATE_LABELS).map((label) => label.length));

export function formatOutgoing(tweet: OutgoingTweet): string {
  if (tweet.waitingReason !== null)
    return `  ${'waiting'.padEnd(9)} ${quote(tweet.text)} (${waitingForX(tweet.waitingReason)})\n`;
  const detail =
    tweet.state === 'confirmed'
      ? (tweet.xUrl ?? (tweet.xTweetId ? `id ${tweet.xTweetId}` : ''))
      : tweet.state === 'failed'
        ? (tweet.failureReason ?? '')
        : tweet.state === 'sent'
          ? `with the user gateway since ${formatDate(tweet.sentAt)}, expires ${formatDate(tweet.expiresAt)}`
          : `saved in the app, waiting for the user gateway, expires ${formatDate(tweet.expiresAt)}`;
  return `  ${STATE_LABELS[tweet.state].padEnd(LABEL_WIDTH)} ${quote(tweet.text)}${detail ? ` (${detail})` : ''}\n`;
}

export function formatStatus(input: {
  counts: StatusCounts;
  endpointId: string;
  registeredUntil: Date | null;
  subscription: SubscriptionRecord | null;
  subscriptionStatus: SubscriptionStatusRecord | null;
  timeline: { total: number; unshown: number };
  recent: readonly OutgoingTweet[];
}): string {
  const { counts } = input;
  let out =
    `Tweets: ${counts.queued} queued in the app, ${counts.sent} with the user gateway, ${counts.confirmed} confirmed, ${counts.failed} failed\n` +
    `Endpoint: ${input.endpointId} (${input.registeredUntil ? `registered until ${formatDate(input.registeredUntil)}` : 'not registered yet'})\n` +
    `Subscription: ${
      input.subscription
        ? `home timeline until ${formatDate(input.subscription.pdaExpiry)} (sent ${formatDate(input.subscription.sentAt)})`
        : 'none yet (run twitter-app or twitter-app subscribe)'
    }${
      input.subscriptionStatus
        ? input.subscriptionStatus.state === 'active'
          ? `; confirmed by the adapter ${formatDate(input.subscriptionStatus.date)}`
          : input.subscriptionStatus.state === 'waiting'
            ? `; ${waitingForX(input.subscriptionStatus.reason)} (${formatDate(input.subscriptionStatus.date)})`
            : `; FAILED at the adapter: ${input.subscriptionStatus.reason ?? 'no reason given'}${input.subscriptionStatus.httpStatus ? ` (HTTP ${input.subscriptionStatus.httpStatus})` : ''}`
        : ''
    }\n` +
    `Timeline: ${input.timeline.total} tweets received, ${input.timeline.unshown} not shown yet\n`;
  if (input.recent.length > 0) out += `Recent tweets of yours:\n${input.recent.map(formatOutgoing).join('')}`;
  return out;
}
