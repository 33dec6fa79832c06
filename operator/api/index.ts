export * from './kvcluster.js';
export * from './validate.js';
export { crd } from './crd.js';
