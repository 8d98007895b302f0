/** End-to-end tests in a real n8n (npm run test:e2e); not part of the default `npm test`. */
const base = require('./jest.config');

module.exports = { ...base, testMatch: ['**/e2e/**/*.e2e.ts'], testTimeout: 600000, maxWorkers: 1 };
