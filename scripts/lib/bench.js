// Shared by the benchmarks: the median of several timed runs after one untimed warm-up
// (model load, WASM compilation and the page cache are not what is measured).
'use strict';

function median(xs) {
	const s = [...xs].sort((a, b) => a - b);
	return s[Math.floor(s.length / 2)];
}

/** Milliseconds of each of `rounds` runs of fn, after one untimed warm-up. */
async function timings(fn, rounds) {
	await fn();
	const times = [];
	for (let i = 0; i < rounds; i++) {
		const t = process.hrtime.bigint();
		await fn();
		times.push(Number(process.hrtime.bigint() - t) / 1e6);
	}
	return times;
}

async function timed(fn, rounds) {
	return median(await timings(fn, rounds));
}

/** Median and 90th percentile. */
function stats(xs) {
	const s = [...xs].sort((a, b) => a - b);
	return { median: s[Math.floor(s.length / 2)], p90: s[Math.min(s.length - 1, Math.floor(s.length * 0.9))] };
}

module.exports = { median, stats, timed, timings };
