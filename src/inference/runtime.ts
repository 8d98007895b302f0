/** Devices and their hints; which ONNX Runtime loads is probed in ONNX Runtime's thread (backends.ts). */
import { DeviceUnavailableError } from '../errors';

export type Device = 'cpu' | 'cuda' | 'dml' | 'coreml' | 'auto';

/** The error for an onnxruntime-node that does not load here, with what to do about it. */
export function nativeLoadError(message: string): DeviceUnavailableError {
	const musl = /musl|ld-linux|GLIBC|Error relocating/i.test(message);
	return new DeviceUnavailableError(
		`ONNX Runtime could not be loaded: ${message.split('\n')[0]}`,
		musl
			? "onnxruntime-node ships glibc binaries only and n8n's official Docker image is Alpine (musl). Run n8n on a Debian-based image (e.g. build FROM node:20-bookworm and npm install n8n), see the README's Docker section."
			: 'Reinstall the package so its dependency onnxruntime-node is present (Settings > Community Nodes, or npm install in ~/.n8n/nodes).',
		{ kind: 'nativeRuntimeMissing', musl },
	);
}

/** Execution providers onnxruntime-node can name on this platform. */
const GPU_PROVIDER: Partial<Record<NodeJS.Platform, Exclude<Device, 'cpu' | 'auto'>>> = {
	linux: 'cuda',
	win32: 'dml',
	darwin: 'coreml',
};

export function gpuProviderForPlatform(platform = process.platform): Exclude<Device, 'cpu' | 'auto'> | undefined {
	return GPU_PROVIDER[platform];
}

export const DEVICE_HINT: Record<Exclude<Device, 'cpu' | 'auto'>, string> = {
	cuda:
		'CUDA needs Linux x64, an NVIDIA driver, CUDA 12 and cuDNN 9, and the onnxruntime-node CUDA binaries (installed by its install script: run "npm rebuild onnxruntime-node" where n8n keeps community nodes, with scripts allowed). Or set {device} to "CPU" or "Auto".',
	dml: 'DirectML is available on Windows only (x64/arm64) with a DirectX 12 GPU. Set {device} to "CPU" or "Auto" elsewhere.',
	coreml: 'CoreML is available on macOS only. Set {device} to "CPU" or "Auto" elsewhere.',
};
