import { pipelineChart, STAGE_NAMES } from './pipeline';

test('the pipeline chart has a bar per way and N, a segment per stage in ms per parcel, and the rate', () => {
  const svg = pipelineChart([
    {
      way: 'tweets',
      n: 1000,
      stages: [
        ['appToUserGateway', 1000],
        ['relayAtUserGateway', 200],
        ['relayAtRelayingGateway', 300],
        ['relayingGatewayToAdapter', 500],
      ],
    },
    { way: 'timeline', n: 10_000, stages: [['userGatewayToApps', 5000]] },
  ]);
  expect(svg).toContain('>tweets, 1k<');
  expect(svg).toContain('>timeline, 10k<');
  // 2,000 ms for 1k parcels: 2 ms each, 500/s; 5,000 ms for 10k: 0.5 ms each, 2,000/s.
  expect(svg).toContain('2.00 ms · 500/s');
  expect(svg).toContain('0.50 ms · 2000/s');
  expect(svg).toContain(`tweets, 1k, ${STAGE_NAMES.appToUserGateway}: 1</title>`);
  expect(svg).toContain(`timeline, 10k, ${STAGE_NAMES.userGatewayToApps}: 0.5</title>`);
  expect(svg.match(/<rect [^>]*height="26"/g)).toHaveLength(5);
});
