/** @type {import('jest').Config} */
module.exports = {
	testEnvironment: '<rootDir>/test/helpers/environment.js',
	roots: ['<rootDir>/test'],
	testMatch: ['**/*.test.ts'],
	transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] },
	testTimeout: 120000,
	reporters: ['default', '<rootDir>/test/helpers/summary-reporter.js'],
};
