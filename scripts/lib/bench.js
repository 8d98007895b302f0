// Shared by the benchmarks: the median of several timed runs after one untimed warm-up
// (model load, WASM compilation and the page cache are not what is measured).
'use strict';

function median(xs) {
	const s = [...xs].sort((a, b) => a - b);
	return s[Math.floor(s.length / 2)];
}

async function timed(fn, rounds) {
	await fn();
	const times = [];
	for (let i = 0; i < rounds; i++) {
		const t = process.hrtime.bigint();
		await fn();
		times.push(Number(process.hrtime.bigint() - t) / 1e6);
	}
	return median(times);
}

module.exports = { median, timed };
