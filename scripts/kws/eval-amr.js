#!/usr/bin/env node
// Command recall on telephone audio: every command clip of Speech Commands' speaker-disjoint
// validation split, decoded by ffmpeg and re-encoded by sox as an 8 kHz AMR-NB voice note
// (12.2 kbit/s, as older phones send), classified through the engine (its in-process AMR
// decoder). Prints top-label recall and recall at 0.80 / 0.85 for the built-in model and any
// --model folders given (e.g. the previous version). Needs ../shared, ffmpeg and sox. No dither:
// the same notes every run. `--opus <kbit/s>` (repeatable) adds the same commands as Ogg Opus
// voice notes at that bitrate (ffmpeg's libopus, voip mode, as Telegram and WhatsApp send them),
// decoded by the node's in-process Opus reader.
//
//   npm run build && node scripts/kws/eval-amr.js [--model <folder>]... [--opus 8]...
'use strict';
const { execFileSync } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const { loadModelSpec } = require(path.join(ROOT, 'dist', 'src', 'model', 'spec'));
const { resolveBuiltIn } = require(path.join(ROOT, 'dist', 'src', 'model', 'catalog'));
const { classifyAudio } = require(path.join(ROOT, 'dist', 'src', 'pipeline'));
const { csv, COMMANDS, SHARED } = require('./eval-node');
const SC = path.join(SHARED, 'speech-commands');

async function main() {
	const models = [['built-in', resolveBuiltIn('speech-commands-dscnn').dir]];
	const argv = process.argv.slice(2);
	const opus = [];
	for (let i = 0; i < argv.length; i++) {
		if (argv[i] === '--model') models.push([argv[i + 1], argv[++i]]);
		else if (argv[i] === '--opus') opus.push(Number(argv[++i]));
	}
	const clips = csv(path.join(SC, 'manifest.csv')).filter((row) => row.split === 'validation' && COMMANDS.includes(row.label));
	const dir = mkdtempSync(path.join(os.tmpdir(), 'kws-amr-'));
	try {
		const sets = [['AMR-NB', []], ...opus.map((k) => [`Ogg Opus ${k} kbit/s`, []])];
		clips.forEach(({ path: file, label }, i) => {
			const wav = path.join(dir, 'in.wav');
			const amr = path.join(dir, `${i}.amr`);
			execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-i', path.join(SC, file), '-ar', '16000', '-ac', '1', wav]);
			execFileSync('sox', ['-V1', '-D', wav, '-r', '8000', '-t', 'amr-nb', amr]);
			sets[0][1].push({ label, bytes: readFileSync(amr) });
			opus.forEach((k, j) => {
				const ogg = path.join(dir, `${i}-${k}.ogg`);
				execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-i', wav, '-c:a', 'libopus', '-b:a', `${k}k`, '-application', 'voip', ogg]);
				sets[j + 1][1].push({ label, bytes: readFileSync(ogg) });
			});
		});
		for (const [name, folder] of models) for (const [kind, notes] of sets) {
			const spec = loadModelSpec(folder, 'auto', 'kws');
			const hit = { top: 0, 0.8: 0, 0.85: 0 };
			for (const n of notes) {
				const [top] = (await classifyAudio(n.bytes, spec, { topK: 1, functionToApply: 'auto', device: 'cpu' })).labels;
				if (top.label !== n.label) continue;
				hit.top++;
				if (top.score >= 0.8) hit[0.8]++;
				if (top.score >= 0.85) hit[0.85]++;
			}
			const pct = (k) => `${((100 * hit[k]) / notes.length).toFixed(1)}%`;
			console.log(`${name}: ${notes.length} ${kind} command notes, recall ${pct('top')} at the top label, ${pct(0.8)} at 0.80, ${pct(0.85)} at 0.85`);
		}
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

main().then(
	() => process.exit(0),
	(e) => {
		console.error(e);
		process.exit(1);
	},
);
