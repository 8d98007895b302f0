import { AudioClassificationError } from '../errors';

/** Any failure to get a file from the Hub or its cache. */
export class HubError extends AudioClassificationError {}
