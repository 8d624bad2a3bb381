import { MemoryLogger } from '@twitter-relaynet/core';

import type { FutureDatedCargo } from './clockSkew';
import type { ClockSkewNotice } from './clockSkewNotice';
import { ClockSkewMonitor, logFutureDatedCargo } from './clockSkewStatus';
import type { CargoReceipt } from './Gateway';

const HOUR = 3_600_000;
const at = (hours: number) => new Date(Date.UTC(2026, 11, 1) + hours * HOUR);
const refused = (hours: number): ClockSkewNotice => ({
  status: 'refused',
  at: at(hours),
  aheadMs: 3 * HOUR,
  parcelCount: 2,
  toleranceSeconds: 7200,
});
const futureDated: FutureDatedCargo = {
  cargoId: 'cargo-1',
  peerId: '0relaying',
  now: at(10),
  toleranceSeconds: 7200,
  parcels: [],
  parcelIds: ['p1', 'p2'],
  latest: at(13),
  aheadMs: 3 * HOUR + 0.4,
};

function receipt(options: { acknowledged?: number; futureDated?: FutureDatedCargo } = {}): CargoReceipt {
  return {
    cargoId: 'cargo-1',
    peerId: '0relaying',
    parcelsStored: 0,
    duplicatesAcknowledged: 0,
    pcasProcessed: 0,
    itemsSkipped: 0,
    parcelsConsumed: 0,
    acknowledgedParcels: Array.from({ length: options.acknowledged ?? 0 }, (_, index) => ({
      queue: 'q',
      senderId: '0app',
      id: `p${index}`,
    })),
    futureDated: options.futureDated ?? null,
  };
}

test('the latest notice by the relaying gateway clock wins; an older one changes nothing', () => {
  const logger = new MemoryLogger();
  const monitor = new ClockSkewMonitor({}, logger, () => 'refused!');
  expect(monitor.noticeReceived(refused(5))).toBe(true);
  expect(monitor.status).toEqual({ internet: refused(5) });
  expect(monitor.noticeReceived({ status: 'resolved', at: at(4) })).toBe(false);
  expect(monitor.noticeReceived({ status: 'resolved', at: at(6) })).toBe(true);
  expect(monitor.status).toEqual({ internet: { status: 'resolved', at: at(6) } });
  expect(logger.records.map((record) => [record.level, record.message])).toEqual([
    ['warn', 'refused!'],
    ['info', 'The relaying gateway takes cargo from this computer again'],
  ]);
});

test('future-dated parcels in a cargo set the local refusal; the next cargo without any clears it', () => {
  const logger = new MemoryLogger();
  const monitor = new ClockSkewMonitor({}, logger);
  const status = monitor.cargoTaken(monitor.watchCargo(), receipt({ futureDated }), { deliveryId: 'd1' });
  expect(status).toEqual({ local: { at: at(10), aheadMs: 3 * HOUR, parcelCount: 2, toleranceSeconds: 7200 } });
  expect(logger.records[0]).toMatchObject({
    level: 'error',
    fields: { deliveryId: 'd1', cargoId: 'cargo-1', parcelIds: ['p1', 'p2'], latestDate: at(13).toISOString() },
  });
  expect(logger.records[0].message).toMatch(
    /^Parcels not taken: 2 parcel\(s\) .* 3\.0 h ahead of this computer's clock/,
  );
  expect(monitor.cargoTaken(monitor.watchCargo(), receipt())).toEqual({});
});

test('a refusal is cleared by a cargo acknowledging our parcels, unless that cargo held a new refusal', () => {
  const logger = new MemoryLogger();
  const monitor = new ClockSkewMonitor({ internet: refused(1) }, logger);
  // Acknowledgements in the same cargo as a new refusal: the refusal stands.
  let watch = monitor.watchCargo();
  monitor.noticeReceived(refused(2));
  expect(monitor.cargoTaken(watch, receipt({ acknowledged: 1 }))).toEqual({ internet: refused(2) });
  // No acknowledgements: nothing said either way.
  expect(monitor.cargoTaken(monitor.watchCargo(), receipt())).toEqual({ internet: refused(2) });
  // Acknowledgements and no complaint: taken again.
  watch = monitor.watchCargo();
  expect(monitor.cargoTaken(watch, receipt({ acknowledged: 2 }), { deliveryId: 'd3' })).toEqual({});
  expect(logger.records.at(-1)).toMatchObject({
    level: 'info',
    fields: { deliveryId: 'd3' },
    message: 'The relaying gateway takes parcels from this computer again',
  });
});

test('the relaying gateway logs future-dated parcels with the peer, and where the fault probably is', () => {
  const logger = new MemoryLogger();
  logFutureDatedCargo(logger, futureDated, 'relaying', { deliveryId: 'd' });
  expect(logger.records).toEqual([
    {
      level: 'error',
      fields: {
        deliveryId: 'd',
        cargoId: 'cargo-1',
        peerId: '0relaying',
        parcelIds: ['p1', 'p2'],
        latestDate: at(13).toISOString(),
      },
      message: expect.stringMatching(/this gateway's clock .* the clock of the user's computer is probably ahead/),
    },
  ]);
});
