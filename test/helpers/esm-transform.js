/**
 * Jest transform for the ES-module decoders in node_modules: ts-jest compiles
 * them to CommonJS, after `import.meta.url` (which CommonJS cannot express and
 * emscripten's loader reads) is replaced by the file's own URL.
 */
const { createHash } = require('node:crypto');
const tsJest = require('ts-jest').default.createTransformer({ tsconfig: 'tsconfig.test.json' });

const rewrite = (src) => src.replaceAll('import.meta.url', 'require("node:url").pathToFileURL(__filename).href');

module.exports = {
	process: (src, file, options) => tsJest.process(rewrite(src), file, options),
	getCacheKey: (src, file, options) =>
		createHash('sha256').update('esm-transform-1').update(tsJest.getCacheKey(rewrite(src), file, options)).digest('hex'),
};
