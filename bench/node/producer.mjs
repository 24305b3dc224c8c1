// Enqueue N jobs with Queue.addBulk in chunks; print one JSON line of figures.
// usage: node producer.mjs QUEUE N CHUNK
import { Queue } from 'bullmq';
import { connection, cpuSeconds, peakRssKb } from './common.mjs';

const [queue, nArg, chunkArg] = process.argv.slice(2);
const n = Number(nArg);
const chunk = Number(chunkArg);
const q = new Queue(queue, { connection: connection() });
await q.waitUntilReady();
const cpu0 = cpuSeconds();
const t0 = performance.now();
for (let start = 0; start < n; start += chunk) {
  const jobs = [];
  for (let i = start; i < Math.min(n, start + chunk); i += 1) {
    jobs.push({ name: 'noop', data: { i }, opts: { jobId: `j${i}`, removeOnComplete: i % 2 === 1 } });
  }
  await q.addBulk(jobs);
}
const elapsed = (performance.now() - t0) / 1000;
const cpu = cpuSeconds() - cpu0;
await q.close();
console.log(JSON.stringify({
  engine: 'node', enqueued: n, elapsed, cpu, maxrss_kb: peakRssKb(),
}));
process.exit(0);
