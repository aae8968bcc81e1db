import './setup.js';

export * from './base.js';
export * from './backend.js';
export * from './layers.js';
export * from './graph.js';
export * from './count.js';
export * from './custom-op.js';
export { registerConvGradKernels, conv2dFilterGrad, depthwiseFilterGrad, depthwiseInputGrad } from './conv-grad-kernels.js';
