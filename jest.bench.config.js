/** Benchmarks in a real n8n (npm run bench:n8n): not tests, not part of `npm test` or CI. */
const base = require('./jest.config');

module.exports = { ...base, roots: ['<rootDir>/bench'], testMatch: ['**/bench/**/*.bench.ts'], testTimeout: 3600000, maxWorkers: 1 };
