export { polyReLU, polyReLUScalar } from './polyrelu.js';
export { polyNorm, POLYNORM_DEFAULT_EPS } from './polynorm.js';
export { POLY_DEFAULT_W, POLY_DEFAULT_B } from './params.js';
export { PolyReLU, PolyNorm, polyReLULayer, polyNormLayer, type PolyArgs, type PolyNormArgs } from './layer.js';
