// Jest runs tests in a separate V8 context, so typed arrays made in a test
// fail onnxruntime's `instanceof Float32Array` checks (and Buffer is from the
// outer realm anyway). Share the outer realm's typed arrays with the tests.
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
	'ArrayBuffer', 'Uint8Array', 'Int8Array', 'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array',
	'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
];

class SharedTypedArrayEnvironment extends TestEnvironment {
	constructor(config, context) {
		super(config, context);
		for (const name of SHARED) this.global[name] = globalThis[name];
	}
}

module.exports = SharedTypedArrayEnvironment;
