// Copies what tsc does not: node/credential icons and every model file
// (ONNX, JSON configs, model cards) into dist/, keeping their paths.
const { src, dest, parallel } = require('gulp');

function copyIcons() {
	return src(['nodes/**/*.{png,svg}', 'credentials/**/*.{png,svg}'], { base: '.' }).pipe(dest('dist'));
}

function copyCodex() {
	return src('nodes/**/*.node.json', { base: '.' }).pipe(dest('dist'));
}

// The ONNX Runtime worker is plain JavaScript (it runs unchanged from src/ under ts-jest).
function copyWorker() {
	return src('src/**/*.js', { base: '.' }).pipe(dest('dist'));
}

// onnxruntime-web's Node build and the one WASM binary it loads (14 MB), not the
// package's 139 MB of browser builds (WebGPU, WebGL, JSEP, asyncify variants).
function copyOrtWeb() {
	const dir = 'node_modules/onnxruntime-web';
	return src(
		[`${dir}/dist/ort.node.min.js`, `${dir}/dist/ort-wasm-simd-threaded.mjs`, `${dir}/dist/ort-wasm-simd-threaded.wasm`, `${dir}/package.json`],
		{ encoding: false },
	).pipe(dest('dist/vendor/onnxruntime-web'));
}

function copyModels() {
	// encoding: false keeps binary ONNX files byte-exact (gulp 5 decodes to UTF-8 otherwise).
	return src('models/**/*', { base: '.', encoding: false }).pipe(dest('dist'));
}

exports['build:assets'] = parallel(copyIcons, copyCodex, copyModels, copyWorker, copyOrtWeb);
