/**
 * A one-line progress bar on stderr: redrawn in place on a terminal; otherwise (CI logs, pipes) a
 * line per 10% and at least every `everySeconds`.
 */
export interface ProgressStream {
  isTTY?: boolean;
  write(s: string): unknown;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export class ProgressBar {
  private lastDecile = -1;
  private lastLine = 0;

  constructor(
    private readonly stream: ProgressStream,
    private readonly width = 24,
    private readonly everySeconds = 30,
  ) {}

  update(fraction: number, label: string, fields: Record<string, string>): void {
    const f = Math.min(1, Math.max(0, fraction));
    const filled = Math.round(f * this.width);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(this.width - filled)}] ${(f * 100).toFixed(0).padStart(3)}%`;
    const text = `${label} ${bar} ${Object.entries(fields).map(([k, v]) => `${k} ${v}`).join('  ')}`;
    if (this.stream.isTTY) {
      this.stream.write(`\r\x1b[2K${text}`);
      if (f >= 1) this.stream.write('\n');
      return;
    }
    const decile = Math.floor(f * 10);
    const now = performance.now();
    if (decile !== this.lastDecile || now - this.lastLine >= this.everySeconds * 1000) {
      this.lastDecile = decile;
      this.lastLine = now;
      this.stream.write(`${text}\n`);
    }
  }
}
