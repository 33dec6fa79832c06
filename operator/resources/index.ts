export * from './naming.js';
export * from './services.js';
export * from './statefulset.js';
