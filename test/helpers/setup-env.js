// Loading the node starts the prewarm (src/prewarm.ts): a worker thread and a model load in
// every test file that imports the node. Off here unless a run sets it; test/prewarm.test.ts
// turns it on for itself.
process.env.N8N_AUDIO_CLASSIFICATION_PREWARM ??= '0';
