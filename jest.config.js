// One Jest project per package, so `jest --selectProjects core` runs one package.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const packagesDir = path.join(__dirname, 'packages');
const packages = fs
  .readdirSync(packagesDir)
  .filter((name) => fs.existsSync(path.join(packagesDir, name, 'package.json')));

// The repository's own scripts, in plain JavaScript.
const scriptsProject = {
  displayName: 'scripts',
  rootDir: path.join(__dirname, 'scripts'),
  testEnvironment: 'node',
  testMatch: ['<rootDir>/*.spec.js'],
};

module.exports = {
  projects: packages
    .map((name) => ({
      displayName: name,
      rootDir: path.join(packagesDir, name),
      testEnvironment: 'node',
      testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.spec.ts'],
      transform: {
        '^.+\\.ts$': ['ts-jest', { tsconfig: path.join(__dirname, 'tsconfig.jest.json') }],
      },
      // Sibling packages resolve to their TypeScript sources, so tests never need a prior build.
      // A test-only package's further entries (`@twitter-relaynet/test-support/gateway`) are folders or files of src.
      moduleNameMapper: {
        '^@twitter-relaynet/([a-z-]+)$': path.join(packagesDir, '$1', 'src'),
        '^@twitter-relaynet/(test-support|binding-conformance)/([a-z-]+)$': path.join(packagesDir, '$1', 'src', '$2'),
      },
    }))
    .concat(scriptsProject),
  testTimeout: 30_000,
  // Jest's default on 2 cores is one worker, running every file in turn; most suites wait more than they compute
  // (daemons starting, couriers' trips, slow links), so two files at a time keep both cores busy. The tests are
  // written to pass under load (`npm run test:loaded`).
  maxWorkers: Math.max(2, os.availableParallelism() - 1),
};
