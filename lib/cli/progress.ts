// Progress of a long loop (denoising steps, chunks): a single redrawn bar on a terminal, and plain
// lines at every 10% elsewhere, so logs and CI output stay readable.

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  total: number;
  label: string;
  /** Where to draw (default process.stderr). A stream whose isTTY is true gets the redrawn bar. */
  stream?: ProgressStream;
  /** Milliseconds clock (default performance.now); tests pass their own. */
  now?: () => number;
}

export interface Progress {
  /** Reports `done` of `total` items finished; `info` is shown after the figures (say, "cached"). */
  tick(done: number, info?: string): void;
  /** Ends the display with a line of totals and `summary` (replacing the bar on a terminal). Later ticks are ignored. */
  finish(summary?: string): void;
}

/** Least time between two redraws of the terminal bar, so fast loops do not flood the terminal. */
const REDRAW_MS = 80;
const BAR_MAX = 30;
const BAR_MIN = 10;

export function createProgress(options: ProgressOptions): Progress {
  const { total, label } = options;
  if (!Number.isInteger(total) || total < 0) throw new RangeError(`createProgress: total must be a non-negative integer, got ${total}`);
  if (typeof label !== 'string') throw new TypeError('createProgress: label must be a string');
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? (() => performance.now());
  const tty = stream.isTTY === true;
  const start = now();
  let done = 0;
  let lastDraw = -Infinity;
  let lastDecile = -1;
  let finished = false;

  const elapsedSeconds = () => (now() - start) / 1000;
  const rate = () => {
    const s = elapsedSeconds();
    return s > 0 ? done / s : 0;
  };
  const figures = (info?: string) => {
    const r = rate();
    const eta = r > 0 ? formatDuration((total - done) / r) : '?';
    return `${done}/${total} ${percent(done, total)} ${r.toFixed(2)} it/s ETA ${eta}${info ? ` ${info}` : ''}`;
  };

  const drawBar = (info?: string) => {
    const columns = stream.columns && stream.columns > 20 ? stream.columns : 80;
    const text = figures(info);
    const barWidth = Math.max(BAR_MIN, Math.min(BAR_MAX, columns - label.length - text.length - 5));
    const filled = total === 0 ? barWidth : Math.round((done / total) * barWidth);
    const line = `${label} [${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}] ${text}`;
    // Stay within one row: a wrapped line cannot be redrawn in place with \r.
    stream.write(`\r${line.slice(0, columns - 1)}\x1b[K`);
  };

  return {
    tick(value: number, info?: string) {
      if (finished) return;
      if (!Number.isFinite(value) || value < 0) throw new RangeError(`progress.tick: done must be a finite number >= 0, got ${value}`);
      done = Math.min(Math.floor(value), total);
      if (tty) {
        const t = now();
        if (t - lastDraw >= REDRAW_MS || done === total) {
          lastDraw = t;
          drawBar(info);
        }
        return;
      }
      // Plain output: the first tick, then once per 10% reached (the end is finish's line).
      const decile = total === 0 ? 10 : Math.floor((done * 10) / total);
      if ((lastDecile < 0 || decile > lastDecile) && decile < 10) stream.write(`${label}: ${figures(info)}\n`);
      lastDecile = Math.max(lastDecile, decile);
    },
    finish(summary?: string) {
      if (finished) return;
      finished = true;
      const seconds = elapsedSeconds();
      const line = `${label}: done ${done}/${total} in ${formatDuration(seconds)} (${rate().toFixed(2)} it/s)${summary ? ` ${summary}` : ''}`;
      // On a terminal the summary replaces the bar.
      stream.write(`${tty ? '\r\x1b[K' : ''}${line}\n`);
    },
  };
}

function percent(done: number, total: number): string {
  return `${total === 0 ? 100 : Math.floor((done / total) * 100)}%`;
}

/** 7.3s, 2:05, 1:02:05. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  const [h, m, sec] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
}
