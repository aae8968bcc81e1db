export { run, USAGE } from './cli.js';
export { ProgressBar, formatDuration } from './progress.js';
export { table } from './table.js';
export type { Io } from './io.js';
