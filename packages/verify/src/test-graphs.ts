/** TEST ONLY: the graphs and frames export-c's tests use (one source for both packages). */
export { blockGraph, randomFrames, standardGraph, streamFrames } from '../../export-c/src/test-graph.js';
