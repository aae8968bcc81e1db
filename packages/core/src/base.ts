/**
 * `@tinyblocks/core/base`: the parts of core that do not need tfjs (typed errors, validation,
 * the seeded RNG), for integer-only and data packages. Same classes as the main entry.
 */
export * from './errors.js';
export * from './validate.js';
export * from './rng.js';
