// ESLint 9 flat config with the n8n community-node rule sets
// (eslint-plugin-n8n-nodes-base ships them in eslintrc form; we map them).
const n8nNodesBase = require('eslint-plugin-n8n-nodes-base');
const tsParser = require('@typescript-eslint/parser');

const { configs } = n8nNodesBase;
const plugins = { 'n8n-nodes-base': n8nNodesBase };
const tsLanguage = { parser: tsParser, ecmaVersion: 'latest', sourceType: 'module' };

module.exports = [
	{ ignores: ['dist/**', 'node_modules/**', 'test/**', 'scripts/**', '*.js'] },
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
	{ files: ['src/**/*.ts'], languageOptions: tsLanguage },
];
