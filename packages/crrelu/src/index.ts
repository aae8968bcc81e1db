export { crrelu, crreluScalar, CRRELU_DEFAULT_EPS } from './crrelu.js';
export { CRReLU, crreluLayer, type CRReLUArgs } from './layer.js';
