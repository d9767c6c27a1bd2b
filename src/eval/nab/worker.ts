import { parentPort } from 'node:worker_threads';
import { type DetectorTask, runDetectorTask } from './run-detector.js';

// One task at a time from main.ts; the scores go back as a transferred buffer.
parentPort?.on('message', (task: DetectorTask & { id: number }) => {
  try {
    const scores = runDetectorTask(task);
    parentPort?.postMessage({ id: task.id, scores }, [scores.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort?.postMessage({ id: task.id, error: (e as Error).stack ?? String(e) });
  }
});
