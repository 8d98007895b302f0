/** @type {import('jest').Config} */
module.exports = {
	testEnvironment: '<rootDir>/test/helpers/environment.js',
	roots: ['<rootDir>/test'],
	testMatch: ['**/*.test.ts'],
	transform: {
		'^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }],
		// The WASM audio decoders are ES modules; Node loads them with require(),
		// jest needs them compiled to CommonJS.
		'^.+\\.js$': '<rootDir>/test/helpers/esm-transform.js',
	},
	transformIgnorePatterns: [
		'/node_modules/(?!(mpg123-decoder|ogg-opus-decoder|opus-decoder|@wasm-audio-decoders|@eshaz|codec-parser|simple-yenc|@audio/decode-amr|@audio/decode-aac)/)',
	],
	// The prewarm (src/prewarm.ts) is off in tests that do not ask for it: test/prewarm.test.ts
	setupFiles: ['<rootDir>/test/helpers/setup-env.js'],
	testTimeout: 120000,
	reporters: ['default', '<rootDir>/test/helpers/summary-reporter.js'],
};
