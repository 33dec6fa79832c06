// Tests are TypeScript run as ES modules (the project is ESM because @kubernetes/client-node 2.x is).
// Type checking is done once by `tsc` (make build); tsconfig sets isolatedModules, so ts-jest transpiles per file.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  testMatch: ['<rootDir>/{node,operator,test}/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};
