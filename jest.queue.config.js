/** Queue mode in a real n8n with Redis and PostgreSQL (npm run test:queue); not part of `npm test`. */
const base = require('./jest.config');

module.exports = { ...base, testMatch: ['**/e2e/**/*.queue.ts'], testTimeout: 600000, maxWorkers: 1 };
