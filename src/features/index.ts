/** Feature extractors by preprocessor_config.json's feature_extractor_type. */
import { UnsupportedFeatureExtractorError } from '../errors';
import { astFeatureExtractor } from './ast';
import { clapFeatureExtractor } from './clap';
import type { FeatureExtractor } from './types';
import { wav2vec2FeatureExtractor } from './wav2vec2';
import { whisperFeatureExtractor } from './whisper';

const EXTRACTORS: Record<string, FeatureExtractor> = {
	Wav2Vec2FeatureExtractor: wav2vec2FeatureExtractor,
	ASTFeatureExtractor: astFeatureExtractor,
	WhisperFeatureExtractor: whisperFeatureExtractor,
	ClapFeatureExtractor: clapFeatureExtractor,
};

export const SUPPORTED_FEATURE_EXTRACTORS = Object.keys(EXTRACTORS);

export function getFeatureExtractor(type: string | undefined): FeatureExtractor {
	const extractor = type ? EXTRACTORS[type] : undefined;
	if (!extractor) {
		throw new UnsupportedFeatureExtractorError(
			`The model's feature extractor "${type ?? '(none)'}" is not supported`,
			`Supported types: ${SUPPORTED_FEATURE_EXTRACTORS.join(', ')}. Choose a model whose ` +
				'preprocessor_config.json names one of them (wav2vec2, HuBERT, WavLM, AST, Whisper classifiers; CLAP for zero-shot).',
		);
	}
	return extractor;
}

export type { FeatureExtractor, FeatureTensor, FeatureTensors, PreprocessorConfig } from './types';
