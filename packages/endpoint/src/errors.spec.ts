import { BindingError } from '@twitter-relaynet/binding';
import {
  CertificateError,
  CryptoError,
  RelaynetSyntaxError,
  SchemaVersionError,
  TimingError,
} from '@twitter-relaynet/core';

import { EndpointError, isCoreError, PeerError } from './errors';

describe('isCoreError: only the core verdicts on a message are permanent refusals', () => {
  test.each([
    ['a syntax error', new RelaynetSyntaxError('garbage')],
    ['an expired message', new TimingError('expired')],
    ['a failed decryption', new CryptoError('wrong key')],
    ['a bad certificate path', new CertificateError('no path')],
  ])('%s is', (_, error) => {
    expect(isCoreError(error)).toBe(true);
  });

  test.each([
    // Rooted in the same tree, but a transport failing is retried, never a reason to drop a parcel.
    ['a binding error', new BindingError('connection reset')],
    ['an endpoint error', new EndpointError('not ready')],
    ['a peer error', new PeerError('unknown peer')],
    ['a store schema error', new SchemaVersionError('newer schema')],
    ['a plain error', new Error('disk full')],
  ])('%s is not', (_, error) => {
    expect(isCoreError(error)).toBe(false);
  });
});
