'use strict';
/** One jest run over every package's tests; sources are transpiled by SWC (type-checking is `npm run typecheck`). */
const transform = {
  '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }],
};
const moduleNameMapper = { '^@guitaronline/(platform|contracts|messaging|testing|service-runtime)$': '<rootDir>/shared/$1/src' };

module.exports = {
  testEnvironment: 'node',
  transform,
  moduleNameMapper,
  testMatch: ['<rootDir>/{shared,services}/*/test/**/*.test.ts', '<rootDir>/gateway/test/**/*.test.ts', '<rootDir>/tests/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  globalSetup: '<rootDir>/tests/setup/global-setup.js',
  globalTeardown: '<rootDir>/tests/setup/global-teardown.js',
  testTimeout: 60_000,
  maxWorkers: 2,
};
