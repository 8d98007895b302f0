#!/usr/bin/env node
// Compiles the package's WebAssembly text (src/**/*.wat) into TypeScript modules
// holding the binary as base64 (src/**/*.wasm.ts), committed so that a build
// needs no WebAssembly tool; test/resample-kernel.test.ts checks they are current.
//
//   npm run build:wasm
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const SOURCES = [{ wat: 'src/audio/resample-kernel.wat', name: 'RESAMPLE_KERNEL_WASM' }];

/** The generated module's text for one .wat file. */
async function compile({ wat, name }) {
	const wabt = await require('wabt')();
	const text = readFileSync(path.join(ROOT, wat), 'utf8');
	const parsed = wabt.parseWat(path.basename(wat), text, { simd: true });
	try {
		parsed.validate();
		const { buffer } = parsed.toBinary({ log: false, write_debug_names: false });
		const base64 = Buffer.from(buffer).toString('base64');
		return `// Generated from ${path.basename(wat)} by scripts/wasm/build.js (npm run build:wasm): do not edit.\nexport const ${name} =\n\t'${base64}';\n`;
	} finally {
		parsed.destroy();
	}
}

const target = (wat) => path.join(ROOT, wat.replace(/\.wat$/, '.wasm.ts'));

async function main() {
	for (const source of SOURCES) {
		writeFileSync(target(source.wat), await compile(source));
		console.log(`${source.wat} -> ${path.relative(ROOT, target(source.wat))}`);
	}
}

module.exports = { SOURCES, compile, target };
if (require.main === module) {
	main().catch((e) => {
		console.error(e);
		process.exitCode = 1;
	});
}
