// Node BullMQ side of the interop tests. Connection from the same env vars as
// the Python worker (password read from its file, never from argv).
//   node interop.mjs produce QUEUE NAME DATA_JSON COUNT  -> JSON array of ids
//   node interop.mjs read QUEUE ID                         -> JSON of the job
//   node interop.mjs events QUEUE N TIMEOUT_MS             -> "ready", then one JSON line per event
import { readFileSync } from "node:fs";
import { Queue, QueueEvents } from "bullmq";

const env = process.env;
const connection = {
  host: env.BULLMQ_PLATFORM_REDIS_HOST,
  port: Number(env.BULLMQ_PLATFORM_REDIS_PORT),
  username: env.BULLMQ_PLATFORM_REDIS_USERNAME,
  password: readFileSync(env.BULLMQ_PLATFORM_REDIS_PASSWORD_FILE, "utf8").trim(),
  tls: { ca: readFileSync(env.BULLMQ_PLATFORM_REDIS_CA_FILE) },
  maxRetriesPerRequest: null,
};
const [cmd, queueName, ...args] = process.argv.slice(2);

if (cmd === "produce") {
  const [name, data, count] = args;
  const queue = new Queue(queueName, { connection });
  const ids = [];
  for (let i = 0; i < Number(count); i++) {
    const job = await queue.add(name, JSON.parse(data));
    ids.push(job.id);
  }
  console.log(JSON.stringify(ids));
  await queue.close();
} else if (cmd === "read") {
  const queue = new Queue(queueName, { connection });
  const job = await queue.getJob(args[0]);
  const state = job ? await job.getState() : null;
  console.log(JSON.stringify(job ? { name: job.name, data: job.data, opts: job.opts, state, returnvalue: job.returnvalue, attemptsMade: job.attemptsMade } : null));
  await queue.close();
} else if (cmd === "events") {
  const [n, timeoutMs] = args.map(Number);
  const events = new QueueEvents(queueName, { connection });
  await events.waitUntilReady();
  let seen = 0;
  const done = async () => { await events.close(); process.exit(0); };
  const emit = (kind) => (e) => {
    console.log(JSON.stringify({ event: kind, ...e }));
    if (++seen >= n) done();
  };
  events.on("completed", emit("completed"));
  events.on("failed", emit("failed"));
  events.on("retries-exhausted", emit("retries-exhausted"));
  setTimeout(done, timeoutMs);
  // QueueEvents reads from "$": give its first XREAD a moment, then say ready.
  setTimeout(() => console.log("ready"), 300);
} else {
  console.error(`unknown command ${cmd}`);
  process.exit(2);
}
