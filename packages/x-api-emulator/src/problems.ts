/** Error bodies in the X API v2 shapes (`application/problem+json`). */

export interface ApiProblem {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

const INVALID_REQUEST_TYPE = 'https://api.twitter.com/2/problems/invalid-request';

export function unauthorized(): ApiProblem {
  return { status: 401, body: { title: 'Unauthorized', type: 'about:blank', status: 401, detail: 'Unauthorized' } };
}

export function forbidden(detail: string): ApiProblem {
  return { status: 403, body: { detail, type: 'about:blank', title: 'Forbidden', status: 403 } };
}

export const DUPLICATE_CONTENT_DETAIL = 'You are not allowed to create a Tweet with duplicate content.';

export function duplicateContent(): ApiProblem {
  return forbidden(DUPLICATE_CONTENT_DETAIL);
}

export function tooManyRequests(): ApiProblem {
  return {
    status: 429,
    body: { title: 'Too Many Requests', detail: 'Too Many Requests', type: 'about:blank', status: 429 },
  };
}

export interface InvalidParameter {
  readonly parameter: string;
  readonly values: readonly string[];
  readonly message: string;
}

/** 400 with one entry per invalid parameter, as the real API reports bad query parameters and bodies. */
export function invalidRequest(problems: readonly InvalidParameter[]): ApiProblem {
  return {
    status: 400,
    body: {
      errors: problems.map((p) => ({ parameters: { [p.parameter]: p.values }, message: p.message })),
      title: 'Invalid Request',
      detail: 'One or more parameters to your request was invalid.',
      type: INVALID_REQUEST_TYPE,
    },
  };
}

export const TEXT_TOO_LONG_MESSAGE =
  'Your Tweet text is too long. For more information on how Twitter determines text length see ' +
  'https://github.com/twitter/twitter-text.';

export function textTooLong(): ApiProblem {
  return {
    status: 400,
    body: {
      errors: [{ message: TEXT_TOO_LONG_MESSAGE }],
      title: 'Invalid Request',
      detail: 'One or more parameters to your request was invalid.',
      type: INVALID_REQUEST_TYPE,
    },
  };
}

export function notFoundRoute(): ApiProblem {
  return {
    status: 404,
    body: {
      title: 'Not Found Error',
      detail: 'Sorry, that page does not exist.',
      type: 'https://api.twitter.com/2/problems/resource-not-found',
      status: 404,
    },
  };
}

/**
 * What the real API answers, with status 200, for a tweet id that does not exist: an `errors` array and no `data`.
 */
export function tweetNotFoundPartialError(id: string): Record<string, unknown> {
  return {
    value: id,
    detail: `Could not find tweet with id: [${id}].`,
    title: 'Not Found Error',
    resource_type: 'tweet',
    parameter: 'id',
    resource_id: id,
    type: 'https://api.twitter.com/2/problems/resource-not-found',
  };
}
