import type {
	IDataObject,
	INodeExecutionData,
	INodeProperties,
	INodeType,
	INodeTypeDescription,
	ITriggerFunctions,
	ITriggerResponse,
} from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { commonProperties } from '../AudioClassification/descriptions/common';
import { searchModels } from '../AudioClassification/methods/listSearch';
import { type HeardEvent, type HeardWindow, listen, type ListenStatus, sourceDisplay, withCandidateLabels } from '../../src';
import { authHeaders, checkedUrl, CLAP_HOP, CLAP_WINDOW, clapLabels, modelForTrigger, parseWatchedLabels, sourceKind, toTriggerError, type TriggerOptions } from './helpers';

/** The model parameters of the Audio Classification node (Classify models), without its operation switch. */
const modelProperties: INodeProperties[] = commonProperties
	.filter((p) => ['modelSource', 'builtInModel', 'model', 'revision', 'modelPath'].includes(p.name))
	.filter((p) => !p.displayOptions?.show?.operation) // the CLAP (Your Own Labels) variants
	.map((p) => {
		const hide = { ...(p.displayOptions?.hide ?? {}) };
		delete hide.operation;
		const displayOptions = p.displayOptions && { ...p.displayOptions, hide: Object.keys(hide).length ? hide : undefined };
		if (displayOptions && !displayOptions.hide) delete displayOptions.hide;
		return { ...p, displayOptions: displayOptions && Object.keys(displayOptions).length ? displayOptions : undefined };
	});

/** What "Listen for test event" remembers of the windows, to say what was heard when nothing fired. */
const HEARD_WINDOWS = 40;

export class AudioEventTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Audio Event Trigger',
		name: 'audioEventTrigger',
		icon: { light: 'file:audioEventTrigger.svg', dark: 'file:audioEventTrigger.dark.svg' },
		group: ['trigger'],
		version: 1,
		subtitle: '={{"Listening to " + $parameter["url"]}}',
		description: 'Starts the workflow when a command or sound is heard in a live audio stream',
		eventTriggerDescription: 'Listening to the stream for a command or sound',
		activationMessage: 'The stream is being listened to: every command or sound it hears starts one execution.',
		defaults: { name: 'Audio Event Trigger' },
		inputs: [],
		outputs: ['main'],
		credentials: [
			// n8n's own generic credentials (as the Webhook node uses them), not credentials of this package.
			// eslint-disable-next-line n8n-nodes-base/node-class-description-credentials-name-unsuffixed
			{ name: 'httpBasicAuth', required: true, displayOptions: { show: { authentication: ['basicAuth'] } } },
			{ name: 'httpHeaderAuth', required: true, displayOptions: { show: { authentication: ['headerAuth'] } } },
			{ name: 'huggingFaceHubApi', required: false, displayOptions: { show: { modelSource: ['huggingFaceHub'] } } },
		],
		properties: [
			{
				displayName: 'Source',
				name: 'source',
				type: 'options',
				noDataExpression: true,
				options: [
					{
						name: 'FFmpeg (RTSP, RTMP, SRT, ...)',
						value: 'ffmpeg',
						description: 'Cameras and other network streams FFmpeg opens (needs FFmpeg where n8n runs); no local files',
					},
					{
						name: 'HLS Playlist (.M3u8)',
						value: 'hls',
						description: 'HTTP Live Streaming: AAC or MP3 in MPEG-TS, packed audio or fragmented MP4, read without FFmpeg',
					},
					{
						name: 'HTTP(S) Stream',
						value: 'http',
						description: 'Icecast, Shoutcast or a progressive HTTP stream: MP3, AAC (ADTS), Ogg Opus/Vorbis, FLAC or WAV, decoded without FFmpeg',
					},
				],
				default: 'http',
			},
			{
				displayName: 'Stream URL',
				name: 'url',
				type: 'string',
				default: '',
				required: true,
				placeholder: 'e.g. https://radio.example.com/live.mp3',
				description: 'The address of the audio stream: http(s) for an HTTP stream or an HLS playlist; rtsp://, rtmp://, srt:// or http(s) for FFmpeg',
			},
			{
				displayName: 'Authentication',
				name: 'authentication',
				type: 'options',
				options: [
					{ name: 'Basic Auth', value: 'basicAuth' },
					{ name: 'Header Auth', value: 'headerAuth' },
					{ name: 'None', value: 'none' },
				],
				default: 'none',
				description: 'Sent to the stream\'s own host only, never to a host it redirects to',
			},
			...modelProperties,
			{
				displayName: 'Your Own Labels (CLAP Models)',
				name: 'candidateLabels',
				type: 'string',
				default: '',
				placeholder: 'e.g. smoke alarm, dog barking, glass breaking, background noise',
				description:
					'Only for a CLAP model (e.g. Xenova/clap-htsat-unfused): the sounds to listen for, comma-separated. Add a background label (background noise, silence): labels named silence, noise or unknown never fire. Leave empty for a classification model.',
			},
			{
				displayName: 'Labels to Watch',
				name: 'labels',
				type: 'string',
				default: '',
				placeholder: 'e.g. stop, go',
				description: 'Comma-separated labels that start the workflow. Empty: every label of the model that is not silence, unknown or noise.',
			},
			{
				displayName: 'Threshold',
				name: 'threshold',
				type: 'number',
				typeOptions: { minValue: 0, maxValue: 1, numberPrecision: 2 },
				default: 0.85,
				description:
					'Score a window\'s label needs. 0.85 suits the built-in command model (its card: other speech and noise then trigger under 1%); lower it for models whose scores run lower.',
			},
			{
				displayName: 'Cooldown (Seconds)',
				name: 'cooldown',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 3,
				description: 'After an event, the same label does not start the workflow again for this long, so one "stop" is one execution',
			},
			{
				displayName: 'Options',
				name: 'options',
				type: 'collection',
				placeholder: 'Add option',
				default: {},
				options: [
					{
						displayName: 'Clip After (Seconds)',
						name: 'clipAfter',
						type: 'number',
						typeOptions: { minValue: 0, maxValue: 10, numberPrecision: 2 },
						default: 0.5,
						description: 'Seconds of audio after the event in the attached clip. The execution starts once they have been heard: more seconds, later executions.',
					},
					{
						displayName: 'Clip Before (Seconds)',
						name: 'clipBefore',
						type: 'number',
						typeOptions: { minValue: 0, maxValue: 10 },
						default: 1,
						description: 'Seconds of audio before the event in the attached clip (both 0: no clip)',
					},
					{
						displayName: 'Clip Format',
						name: 'clipFormat',
						type: 'options',
						options: [
							{ name: 'Ogg Opus', value: 'ogg-opus', description: 'Small (32 kb/s), as voice messages are: Telegram Send Audio/Voice, WhatsApp' },
							{ name: 'WAV', value: 'wav', description: '16-bit PCM at the model\'s rate: exact, larger' },
						],
						default: 'wav',
						description: 'How the clip attached to each event is encoded',
					},
					{
						displayName: 'Clip Output Field',
						name: 'binaryPropertyName',
						type: 'string',
						default: 'data',
						description: 'The binary field the event\'s WAV clip is put in',
					},
					{
						displayName: 'Hop (Seconds)',
						name: 'hop',
						type: 'number',
						typeOptions: { minValue: 0, numberPrecision: 3 },
						default: 0,
						description: 'Seconds between window starts. 0: the trigger\'s default, 0.1 s for the built-in command model, else a quarter of the window.',
					},
					{
						displayName: 'Hypothesis Template (CLAP)',
						name: 'hypothesisTemplate',
						type: 'string',
						default: 'This is a sound of {}.',
						description: 'For a CLAP model: the sentence each label is put into ({} marks where)',
					},
					{
						displayName: 'Max Lag (Seconds)',
						name: 'maxLag',
						type: 'number',
						typeOptions: { minValue: 1 },
						default: 5,
						description: 'When classification falls this far behind the stream (slow model, busy machine), audio is skipped to catch up and the seconds skipped are logged',
					},
					{
						displayName: 'Merge Gap (Seconds)',
						name: 'mergeGap',
						type: 'number',
						typeOptions: { minValue: 0, numberPrecision: 3 },
						default: 0,
						description: 'Windows of one label closer than this are one event. 0: one hop. A larger gap delays each execution by as much.',
					},
					{
						displayName: 'Minimum Duration (Seconds)',
						name: 'minDuration',
						type: 'number',
						typeOptions: { minValue: 0, numberPrecision: 2 },
						default: 0,
						description: 'Events shorter than this do not start the workflow',
					},
					{
						displayName: 'Stall Timeout (Seconds)',
						name: 'stallTimeout',
						type: 'number',
						typeOptions: { minValue: 1 },
						default: 15,
						description: 'A connection that sends no audio for this long is dropped and reconnected',
					},
					{
						displayName: 'Test Timeout (Seconds)',
						name: 'testTimeout',
						type: 'number',
						typeOptions: { minValue: 1 },
						default: 60,
						description: 'How long "Listen for test event" waits for an event; when none comes, the error says what was heard meanwhile',
					},
					{
						displayName: 'Threads',
						name: 'threads',
						type: 'number',
						typeOptions: { minValue: 0 },
						default: 0,
						description: 'ONNX Runtime threads for this trigger (0: its default)',
					},
					{
						displayName: 'Window (Seconds)',
						name: 'window',
						type: 'number',
						typeOptions: { minValue: 0, numberPrecision: 3 },
						default: 0,
						description: 'Seconds of audio per classification. 0: the model\'s own span (1 s for the built-in command model).',
					},
				],
			},
		],
	};

	methods = { listSearch: { searchModels } };

	async trigger(this: ITriggerFunctions): Promise<ITriggerResponse> {
		const node = this.getNode();
		const source = sourceKind(this);
		checkedUrl(this, source);
		const headers = await authHeaders(this);
		const url = checkedUrl(this, source, headers);
		const options = this.getNodeParameter('options', {}) as TriggerOptions;
		const spec = await modelForTrigger(this);
		const clap = clapLabels(this, spec);
		const labels = parseWatchedLabels(this, clap ? withCandidateLabels(spec, clap.candidateLabels) : spec);
		const threshold = this.getNodeParameter('threshold', 0.85) as number;
		const cooldown = this.getNodeParameter('cooldown', 3) as number;
		const manual = this.getMode() === 'manual';
		const field = (options.binaryPropertyName || 'data').trim();
		const controller = new AbortController();
		const heard: HeardWindow[] = [];
		let timer: NodeJS.Timeout | undefined;
		let running: Promise<void> | undefined;

		const toItem = async (e: HeardEvent): Promise<INodeExecutionData> => {
			const json: IDataObject = {
				label: e.label,
				score: e.score,
				meanScore: e.meanScore,
				startedAt: e.startedAt,
				endedAt: e.endedAt,
				duration: Math.round((e.end - e.start) * 1000) / 1000,
				streamOffset: e.streamOffset,
				source: e.source,
				model: e.model,
			};
			if (!e.clip) return { json };
			const stamp = e.startedAt.replace(/[:.]/g, '-');
			const ogg = e.clipFormat === 'ogg-opus';
			const binary = await this.helpers.prepareBinaryData(e.clip, `${e.label}-${stamp}.${ogg ? 'ogg' : 'wav'}`, ogg ? 'audio/ogg' : 'audio/wav');
			return { json, binary: { [field]: binary } };
		};
		const onStatus = (s: ListenStatus) => {
			const shown = sourceDisplay(url, source);
			if (s.kind === 'connected' && s.decoder) this.logger.info(`Audio Event Trigger: listening to ${shown} (${s.decoder})`);
			else if (s.kind === 'disconnected')
				this.logger.warn(`Audio Event Trigger: ${shown} disconnected${s.error ? ` (${s.error})` : ''}; reconnecting in ${(s.waitMs / 1000).toFixed(1)} s`);
			else if (s.kind === 'skipped')
				this.logger.warn(`Audio Event Trigger: classification fell ${s.lagSeconds.toFixed(1)} s behind ${shown}; skipped ${s.seconds.toFixed(1)} s of audio to catch up`);
			else if (s.kind === 'gap') this.logger.info(`Audio Event Trigger: ${shown} was away ${s.seconds.toFixed(1)} s`);
		};
		const start = () => {
			running = listen(spec, {
				url,
				source,
				headers,
				device: 'cpu',
				threads: options.threads || undefined,
				labels,
				threshold,
				cooldown,
				...clap,
				// CLAP: 2 s windows every 0.5 s (its own 10 s span would hear a sound late and cost 20 runs a second).
				window: options.window || (clap ? CLAP_WINDOW : undefined),
				hop: options.hop || (clap ? CLAP_HOP : defaultHop(spec)),
				mergeGap: options.mergeGap || undefined,
				minDuration: options.minDuration || 0,
				clipBefore: options.clipBefore ?? 1,
				clipAfter: options.clipAfter ?? 0.5,
				clipFormat: options.clipFormat === 'ogg-opus' ? 'ogg-opus' : 'wav',
				stallMs: (options.stallTimeout || 15) * 1000,
				maxLagSeconds: options.maxLag || 5,
				signal: controller.signal,
				onStatus,
				onWindow: manual
					? (w) => {
							heard.push(w);
							if (heard.length > HEARD_WINDOWS) heard.shift();
						}
					: undefined,
				onEvent: async (e) => {
					if (manual && controller.signal.aborted) return; // the test already has its event
					// this.emit is looked up at each event: n8n replaces it for a manual test after trigger() returns.
					this.emit([[await toItem(e)]]);
					if (manual) stop();
				},
			}).catch((error: unknown) => {
				if (controller.signal.aborted) return;
				// The source gave up (401/403/404, not an audio stream): n8n's trigger error reporting.
				this.emitError(toTriggerError(node, error));
			});
		};
		const stop = () => {
			clearTimeout(timer);
			controller.abort();
		};
		const closeFunction = async () => {
			stop();
			// The connection, timers and the decoder close at once; the model's last windows may take a moment.
			await Promise.race([running, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
		};
		if (!manual) {
			start();
			return { closeFunction };
		}
		const seconds = options.testTimeout || 60;
		const manualTriggerFunction = async () => {
			start();
			timer = setTimeout(() => {
				stop();
				this.emitError(
					new NodeOperationError(node, `No event was heard in ${seconds} s`, {
						description: whatWasHeard(heard, threshold, labels),
					}),
				);
			}, seconds * 1000);
		};
		return { closeFunction, manualTriggerFunction };
	}
}

/** The trigger reacts sooner than Detect Events: for the built-in command model, windows every 0.1 s. */
function defaultHop(spec: { config: { id2label?: Record<string, string> } }): number | undefined {
	const labels = Object.values(spec.config.id2label ?? {});
	return labels.some((l) => /^_?(silence|unknown)_?$/i.test(l)) ? 0.1 : undefined;
}

/** The timeout's description: the top labels of the last windows, so the threshold can be tuned. */
export function whatWasHeard(heard: HeardWindow[], threshold: number, labels: string[] | undefined): string {
	if (!heard.length) return 'No audio was classified: check that the stream plays (it may be silent, or still connecting).';
	const counts = new Map<string, { n: number; best: number }>();
	for (const w of heard) {
		const c = counts.get(w.label) ?? { n: 0, best: 0 };
		c.n++;
		c.best = Math.max(c.best, w.score);
		counts.set(w.label, c);
	}
	const summary = [...counts]
		.sort((a, b) => b[1].n - a[1].n)
		.map(([label, c]) => `${label} (${c.n} of ${heard.length} windows, best score ${c.best.toFixed(2)})`)
		.join(', ');
	const watched = labels?.length ? `the labels watched (${labels.join(', ')})` : 'a label that is not silence, unknown or noise';
	return `Heard in the last ${heard.length} windows: ${summary}. An event needs ${watched} at a score of at least ${threshold}: lower the Threshold, or check Labels to Watch.`;
}
