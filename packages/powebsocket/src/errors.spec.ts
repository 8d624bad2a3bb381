import { BindingError } from '@twitter-relaynet/binding';

import {
  CloseCode,
  ConnectionClosedError,
  HandshakeError,
  PoWebSocketError,
  ProtocolError,
  RegistrationRefusedError,
  UntrustedSocketError,
} from '.';

test.each([
  ['ConnectionClosedError', new ConnectionClosedError(1001, 'going away')],
  ['HandshakeError', new HandshakeError('bad signature', 1003)],
  ['ProtocolError', new ProtocolError(CloseCode.PolicyViolation, 'not now')],
  ['RegistrationRefusedError', new RegistrationRefusedError('no')],
  ['UntrustedSocketError', new UntrustedSocketError('owned by another user')],
])('%s is a PoWebSocketError, hence a BindingError, under its own name', (name, error) => {
  expect(error).toBeInstanceOf(PoWebSocketError);
  expect(error).toBeInstanceOf(BindingError);
  expect(error.name).toBe(name);
});
