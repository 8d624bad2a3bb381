import { RelaynetError } from '@twitter-relaynet/core';

import { BindingError } from './errors';

class ExampleRefusal extends BindingError {}

test('a binding error is a RelaynetError named after its class, keeping its cause', () => {
  const cause = new Error('socket reset');
  const error = new ExampleRefusal('refused', { cause });

  expect(error).toBeInstanceOf(BindingError);
  expect(error).toBeInstanceOf(RelaynetError);
  expect(error.name).toBe('ExampleRefusal');
  expect(error.cause).toBe(cause);
});
