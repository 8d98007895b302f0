// The prewarm (src/prewarm.ts) runs only in n8n's own processes unless forced: off here even
// when a run forces it, so no test file that imports the node starts a worker thread and a
// model load; test/prewarm.test.ts sets it for itself.
process.env.N8N_AUDIO_CLASSIFICATION_PREWARM = '0';
