/**
 * Where the bundled X API emulator listens and the credentials it accepts unless told otherwise. The app and the
 * adapter default to them so that everything works offline with no configuration; the emulator takes them from
 * here. Not secret: they only work with the emulator. The access token starts with the seeded user's id, as X's do.
 */
export const X_API_EMULATOR_HOST = '127.0.0.1';
export const X_API_EMULATOR_PORT = 8085;

export interface XApiEmulatorCredentials {
  readonly appKey: string;
  readonly appSecret: string;
  readonly accessToken: string;
  readonly accessSecret: string;
  readonly oauth2AccessToken: string;
}

export const X_API_EMULATOR_CREDENTIALS: XApiEmulatorCredentials = {
  appKey: 'x-api-emulator-consumer-key',
  appSecret: 'x-api-emulator-consumer-secret',
  accessToken: '1746000000000000001-x-api-emulator-access-token',
  accessSecret: 'x-api-emulator-access-token-secret',
  oauth2AccessToken: 'x-api-emulator-oauth2-user-access-token',
};
