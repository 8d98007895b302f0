/** Types shared by the backend choice (backends.ts) and ONNX Runtime's thread host (worker-host.ts). */
export type BackendChoice = 'auto' | 'native' | 'wasm';
export type Backend = 'native' | 'wasm';
