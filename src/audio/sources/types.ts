/**
 * Live audio sources (ARCHITECTURE: one small file per kind, behind one
 * interface, beside the decoders): an HTTP(S) stream today; HLS and ffmpeg
 * next. A source connection yields bytes; live.ts reconnects.
 */
import { AudioClassificationError } from '../../errors';

/** A source failed: `retry` says whether reconnecting may help (a drop, a 503, a stall) or not (401, 404). */
export class SourceError extends AudioClassificationError {
	constructor(
		message: string,
		hint: string,
		readonly retry: boolean,
		data: Record<string, unknown> = { kind: 'source' },
	) {
		super(message, hint, data);
	}
}
