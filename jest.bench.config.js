/** Benchmarks in a real n8n (npm run bench:n8n): not tests, not part of `npm test` or CI. */
// setupFiles: []: the real n8n these start keeps its defaults (the prewarm on)
const base = require('./jest.config');

module.exports = { ...base, setupFiles: [], roots: ['<rootDir>/bench'], testMatch: ['**/bench/**/*.bench.ts'], testTimeout: 3600000, maxWorkers: 1 };
