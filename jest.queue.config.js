/** Queue mode in a real n8n with Redis and PostgreSQL (npm run test:queue); not part of `npm test`. */
// setupFiles: []: the real n8n these start keeps its defaults (the prewarm on)
const base = require('./jest.config');

module.exports = { ...base, setupFiles: [], testMatch: ['**/e2e/**/*.queue.ts'], testTimeout: 600000, maxWorkers: 1 };
