// Drain N pre-enqueued jobs with a Node BullMQ worker; print one JSON line of figures.
// usage: node worker.mjs QUEUE N CONCURRENCY noop|io
import { Worker } from 'bullmq';
import { connection, cpuSeconds, peakRssKb } from './common.mjs';

const [queue, nArg, concArg, kind] = process.argv.slice(2);
const n = Number(nArg);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let invocations = 0;
let completed = 0;

const processor = kind === 'io'
  ? async (job) => { invocations += 1; await sleep(1); return job.data.i; }
  : async (job) => { invocations += 1; return job.data.i; };

const worker = new Worker(queue, processor, {
  connection: connection(),
  concurrency: Number(concArg),
  autorun: false,
});
await worker.waitUntilReady();
const cpu0 = cpuSeconds();
const t0 = performance.now();
const done = new Promise((resolve) => {
  worker.on('completed', () => { completed += 1; if (completed === n) resolve(); });
});
worker.run();
await done;
const elapsed = (performance.now() - t0) / 1000;
const cpu = cpuSeconds() - cpu0;
await worker.close();
console.log(JSON.stringify({
  engine: 'node', processed: completed, invocations, elapsed, cpu,
  maxrss_kb: peakRssKb(),
}));
process.exit(0);
