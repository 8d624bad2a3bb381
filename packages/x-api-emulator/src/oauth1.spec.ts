import {
  baseStringUri,
  collectSignatureParams,
  expectedSignature,
  hmacSha1Signature,
  normalizeParameters,
  parseAuthorizationHeader,
  parseFormEncoded,
  percentEncode,
  signatureBaseString,
  signaturesMatch,
} from './oauth1';

describe('percentEncode (RFC 5849 section 3.6)', () => {
  test('leaves only unreserved characters alone', () => {
    expect(percentEncode('AZaz09-._~')).toBe('AZaz09-._~');
    expect(percentEncode("!*'() +/=&%,")).toBe('%21%2A%27%28%29%20%2B%2F%3D%26%25%2C');
  });

  test('encodes UTF-8 octets with upper-case hex', () => {
    expect(percentEncode('é☃')).toBe('%C3%A9%E2%98%83');
    expect(percentEncode('😀')).toBe('%F0%9F%98%80');
  });
});

describe('parseAuthorizationHeader', () => {
  test('decodes quoted, percent-encoded parameters', () => {
    const params = parseAuthorizationHeader('OAuth realm="Example",oauth_token="a%2Fb",  oauth_nonce="x"');
    expect(Object.fromEntries(params!)).toEqual({ realm: 'Example', oauth_token: 'a/b', oauth_nonce: 'x' });
  });

  test('returns null for another scheme', () => {
    expect(parseAuthorizationHeader('Bearer abc')).toBeNull();
  });

  test('rejects repeated parameters and garbage', () => {
    expect(() => parseAuthorizationHeader('OAuth a="1", a="2"')).toThrow('Repeated');
    expect(() => parseAuthorizationHeader('OAuth a=1')).toThrow('Malformed');
  });
});

describe('baseStringUri (RFC 5849 section 3.4.1.2)', () => {
  test('lower-cases scheme and host and drops default ports only', () => {
    expect(baseStringUri('HTTP', 'EXAMPLE.COM:80', '/r%20v/X?id=123')).toBe('http://example.com/r%20v/X');
    expect(baseStringUri('https', 'www.example.net:8080', '/?q=1')).toBe('https://www.example.net:8080/');
    expect(baseStringUri('https', 'example.net:443', '/a')).toBe('https://example.net/a');
    expect(baseStringUri('http', '127.0.0.1:8085', '/2/tweets')).toBe('http://127.0.0.1:8085/2/tweets');
  });
});

describe('RFC 5849 section 3.4.1 example request', () => {
  // POST /request?b5=%3D%253D&a3=a&c%40=&a2=r%20b, body "c2&a3=2+q", Host example.com
  const oauthParams = new Map([
    ['realm', 'Example'],
    ['oauth_consumer_key', '9djdj82h48djs9d2'],
    ['oauth_token', 'kkk9d7dh3k39sjv7'],
    ['oauth_signature_method', 'HMAC-SHA1'],
    ['oauth_timestamp', '137131201'],
    ['oauth_nonce', '7d8f3e4a'],
    ['oauth_signature', 'djosJKDKJSD8743243/jdk33klY='],
  ]);
  const params = collectSignatureParams({
    url: '/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b',
    oauthParams,
    formParams: parseFormEncoded('c2&a3=2+q'),
  });

  test('normalizes the parameters as in section 3.4.1.3.2', () => {
    expect(normalizeParameters(params)).toBe(
      'a2=r%20b&a3=2%20q&a3=a&b5=%3D%253D&c%40=&c2=&oauth_consumer_key=9djdj82h48djs9d2&oauth_nonce=7d8f3e4a&' +
        'oauth_signature_method=HMAC-SHA1&oauth_timestamp=137131201&oauth_token=kkk9d7dh3k39sjv7',
    );
  });

  test('builds the base string of section 3.4.1.1', () => {
    expect(signatureBaseString('POST', baseStringUri('http', 'example.com', '/request'), params)).toBe(
      'POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26' +
        'c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26' +
        'oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7',
    );
  });
});

describe('HMAC-SHA1 worked examples', () => {
  test('RFC 5849 section 1.2 (photos.example.net)', () => {
    const signature = expectedSignature(
      {
        method: 'GET',
        scheme: 'http',
        host: 'photos.example.net',
        url: '/photos?file=vacation.jpg&size=original',
        oauthParams: new Map([
          ['realm', 'Photos'],
          ['oauth_consumer_key', 'dpf43f3p2l4k3l03'],
          ['oauth_token', 'nnch734d00sl2jdk'],
          ['oauth_signature_method', 'HMAC-SHA1'],
          ['oauth_timestamp', '137131202'],
          ['oauth_nonce', 'chapoH'],
        ]),
      },
      'kd94hf93k423kf44',
      'pfkkdhi9sl3r4s00',
    );
    expect(signature).toBe('MdpQcU8iPSUjWoN/UDMsK2sui9I=');
  });

  test('Twitter documentation "Creating a signature"', () => {
    const request = {
      method: 'POST',
      scheme: 'https',
      host: 'api.twitter.com',
      url: '/1.1/statuses/update.json?include_entities=true',
      formParams: parseFormEncoded('status=Hello%20Ladies%20%2b%20Gentlemen%2c%20a%20signed%20OAuth%20request%21'),
      oauthParams: new Map([
        ['oauth_consumer_key', 'xvz1evFS4wEEPTGEFPHBog'],
        ['oauth_nonce', 'kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg'],
        ['oauth_signature_method', 'HMAC-SHA1'],
        ['oauth_timestamp', '1318622958'],
        ['oauth_token', '370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb'],
        ['oauth_version', '1.0'],
      ]),
    };
    const baseString = signatureBaseString(
      request.method,
      baseStringUri(request.scheme, request.host, request.url),
      collectSignatureParams(request),
    );
    expect(baseString).toBe(
      'POST&https%3A%2F%2Fapi.twitter.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26' +
        'oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26' +
        'oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26' +
        'oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0%26' +
        'status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521',
    );
    const signature = hmacSha1Signature(
      baseString,
      'kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw',
      'LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE',
    );
    expect(signature).toBe('hCtSmYh+iHYCEqBWrE7C7hYmtUk=');
  });
});

describe('signaturesMatch', () => {
  test('compares exactly, including length', () => {
    expect(signaturesMatch('abc=', 'abc=')).toBe(true);
    expect(signaturesMatch('abc=', 'abd=')).toBe(false);
    expect(signaturesMatch('abc', 'abc=')).toBe(false);
  });
});
