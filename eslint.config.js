// ESLint 9 flat config with the n8n community-node rule sets
// (eslint-plugin-n8n-nodes-base ships them in eslintrc form; we map them).
const n8nNodesBase = require('eslint-plugin-n8n-nodes-base');
const tsParser = require('@typescript-eslint/parser');

const { configs } = n8nNodesBase;
const js = require('@eslint/js');

/** ESLint's recommended correctness rules (no formatting rules), for tests and scripts. */
const correctness = { ...js.configs.recommended.rules, 'no-unused-vars': ['error', { args: 'none', caughtErrors: 'none' }] };
const nodeGlobals = Object.fromEntries(
	['require', 'module', 'exports', '__dirname', '__filename', 'process', 'console', 'Buffer', 'setTimeout', 'clearTimeout',
		'setInterval', 'clearInterval', 'setImmediate', 'URL', 'URLSearchParams', 'fetch', 'AbortController', 'TextDecoder',
		'TextEncoder', 'structuredClone', 'performance', 'Float32Array', 'BigInt64Array', 'globalThis', 'BigInt', 'queueMicrotask', 'WebAssembly',
	].map((g) => [g, 'readonly']),
);
const plugins = { 'n8n-nodes-base': n8nNodesBase };
const tsLanguage = { parser: tsParser, ecmaVersion: 'latest', sourceType: 'module' };

module.exports = [
	{ ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
	{
		files: ['package.json'],
		languageOptions: { parser: tsParser, parserOptions: { extraFileExtensions: ['.json'] } },
		plugins,
		rules: {
			...configs.community.rules,
			// Our repository URL is the project's own, not the starter's.
			'n8n-nodes-base/community-package-json-name-still-default': 'off',
		},
	},
	{
		files: ['credentials/**/*.ts'],
		languageOptions: tsLanguage,
		plugins,
		rules: {
			...configs.credentials.rules,
			// The docs URL is the Hub's token page, not an n8n docs slug.
			'n8n-nodes-base/cred-class-field-documentation-url-miscased': 'off',
		},
	},
	{
		files: ['nodes/**/*.ts'],
		languageOptions: tsLanguage,
		plugins,
		rules: configs.nodes.rules,
	},
	// Boundaries, enforced here rather than remembered:
	{
		// the engine knows nothing of n8n; only src/inference/ knows an ONNX Runtime
		files: ['src/**/*.ts'],
		languageOptions: tsLanguage,
		rules: {
			'no-restricted-imports': [
				'error',
				{
					patterns: [
						{ group: ['n8n-*', '@n8n/*'], message: 'src/ is the engine: no n8n imports (the node maps n8n to it).' },
						{ group: ['onnxruntime-*'], message: 'Only src/inference/ imports an ONNX Runtime package.' },
					],
				},
			],
		},
	},
	{
		files: ['src/inference/**/*.ts'],
		rules: {
			'no-restricted-imports': [
				'error',
				{ patterns: [{ group: ['n8n-*', '@n8n/*'], message: 'src/ is the engine: no n8n imports.' }] },
			],
		},
	},
	{
		// the node uses the engine through its entry file only
		files: ['nodes/**/*.ts', 'credentials/**/*.ts'],
		rules: {
			'no-restricted-imports': [
				'error',
				{
					patterns: [
						{ group: ['**/src/*', '!**/src/index'], message: "Import the engine from its entry file ('../../src'), not its internals." },
						{ group: ['onnxruntime-*'], message: 'Only src/inference/ imports an ONNX Runtime package.' },
					],
				},
			],
		},
	},
	{
		// tests and scripts are linted too (correctness rules; style is the formatter's)
		files: ['test/**/*.ts'],
		languageOptions: tsLanguage,
		rules: { ...correctness, 'no-undef': 'off' },
	},
	{
		files: ['scripts/**/*.js', 'bench/**/*.js', 'src/**/*.js', 'test/helpers/*.js', 'eslint.config.js', 'gulpfile.js', 'jest*.config.js'],
		languageOptions: { ecmaVersion: 'latest', sourceType: 'commonjs', globals: nodeGlobals },
		rules: correctness,
	},
	{
		files: ['scripts/**/*.mjs'],
		languageOptions: { ecmaVersion: 'latest', sourceType: 'module', globals: nodeGlobals },
		rules: correctness,
	},
];
