import { describe, expect, it } from 'vitest';

import { createProgress, formatDuration } from '../../lib/cli/progress.js';

function fakeStream(isTTY: boolean, columns = 100) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns, write: (text: string) => writes.push(text) } };
}

function fakeClock() {
  let ms = 0;
  return { now: () => ms, advance: (by: number) => (ms += by) };
}

describe('createProgress', () => {
  it('prints plain lines at the first tick and every 10% when not a terminal, then a summary', () => {
    const { writes, stream } = fakeStream(false);
    const clock = fakeClock();
    const progress = createProgress({ total: 30, label: 'sampling', stream, now: clock.now });
    for (let step = 1; step <= 30; step++) {
      clock.advance(500);
      progress.tick(step, step % 3 === 0 ? 'computed' : 'cached');
    }
    progress.finish('PSNR 25.9 dB');
    expect(writes.every((w) => w.endsWith('\n') && !w.includes('\r'))).toBe(true);
    expect(writes.length).toBe(1 + 9 + 1);
    expect(writes[0]).toBe('sampling: 1/30 3% 2.00 it/s ETA 14.5s cached\n');
    expect(writes[1]).toBe('sampling: 3/30 10% 2.00 it/s ETA 13.5s computed\n');
    expect(writes[9]).toBe('sampling: 27/30 90% 2.00 it/s ETA 1.5s computed\n');
    expect(writes[10]).toBe('sampling: done 30/30 in 15.0s (2.00 it/s) PSNR 25.9 dB\n');
  });

  it('redraws one line with bar, step/total, it/s and ETA on a terminal, throttled', () => {
    const { writes, stream } = fakeStream(true, 80);
    const clock = fakeClock();
    const progress = createProgress({ total: 4, label: 'gen', stream, now: clock.now });
    clock.advance(2000);
    progress.tick(1);
    progress.tick(1); // same instant: throttled away
    clock.advance(2000);
    progress.tick(2, 'cached');
    clock.advance(1);
    progress.tick(4); // the last step always draws
    progress.finish();
    expect(writes[0]).toMatch(/^\rgen \[█+░+\] 1\/4 25% 0\.50 it\/s ETA 6\.0s\x1b\[K$/);
    expect(writes[1]).toMatch(/^\rgen \[█+░+\] 2\/4 50% 0\.50 it\/s ETA 4\.0s cached\x1b\[K$/);
    expect(writes[2]).toMatch(/^\rgen \[█+\] 4\/4 100% /);
    expect(writes[3]).toBe('\r\x1b[Kgen: done 4/4 in 4.0s (1.00 it/s)\n');
    expect(writes.length).toBe(4);
    for (const w of writes.filter((x) => x.startsWith('\r'))) expect(w.length - '\r\x1b[K'.length).toBeLessThan(80);
  });

  it('keeps the bar within narrow terminals', () => {
    const { writes, stream } = fakeStream(true, 30);
    const progress = createProgress({ total: 10, label: 'a-rather-long-label', stream, now: fakeClock().now });
    progress.tick(5, 'with some extra information');
    expect(writes[0]!.length - '\r\x1b[K'.length).toBeLessThanOrEqual(29);
  });

  it('clamps, ignores ticks after finish, and rejects bad values', () => {
    const { writes, stream } = fakeStream(false);
    const progress = createProgress({ total: 2, label: 'x', stream, now: fakeClock().now });
    progress.tick(5);
    progress.finish();
    progress.tick(1);
    progress.finish();
    // The clamped tick reached the end, which only finish reports.
    expect(writes).toEqual(['x: done 2/2 in 0.0s (0.00 it/s)\n']);
    expect(() => createProgress({ total: -1, label: 'x', stream })).toThrow(/total must be a non-negative integer/);
    expect(() => createProgress({ total: 1, label: 'x', stream }).tick(NaN)).toThrow(/done must be a finite number/);
  });

  it('formats durations', () => {
    expect([formatDuration(7.25), formatDuration(125), formatDuration(3725), formatDuration(Infinity)]).toEqual(['7.3s', '2:05', '1:02:05', '?']);
  });
});
