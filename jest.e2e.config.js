/** End-to-end tests in a real n8n (npm run test:e2e); not part of the default `npm test`. */
// setupFiles: []: the real n8n these start keeps its defaults (the prewarm on)
const base = require('./jest.config');

module.exports = { ...base, setupFiles: [], testMatch: ['**/e2e/**/*.e2e.ts'], testTimeout: 600000, maxWorkers: 1 };
