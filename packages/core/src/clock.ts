/** Where components get the time from, so tests control it. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that only moves when told to. */
export class ManualClock implements Clock {
  private time: number;

  constructor(start: Date = new Date()) {
    this.time = start.getTime();
  }

  now(): Date {
    return new Date(this.time);
  }

  set(date: Date): void {
    this.time = date.getTime();
  }

  advance(milliseconds: number): void {
    this.time += milliseconds;
  }
}
