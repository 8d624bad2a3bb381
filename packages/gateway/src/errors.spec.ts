import { RelaynetError } from '@twitter-relaynet/core';

import * as errors from './errors';

test('every error class of the gateway is a GatewayError, rooted in RelaynetError, named after its class', () => {
  const classes = Object.entries(errors).filter(([, value]) => typeof value === 'function') as [
    string,
    new (message: string) => Error,
  ][];
  expect(classes.map(([name]) => name)).toEqual(
    expect.arrayContaining(['CcaRefusedError', 'CargoRefusedError', 'ParcelRefusedError', 'RegistrationError']),
  );
  for (const [name, ErrorClass] of classes) {
    const error = new ErrorClass('x');
    expect(error).toBeInstanceOf(errors.GatewayError);
    expect(error).toBeInstanceOf(RelaynetError);
    expect(error.name).toBe(name);
  }
});
