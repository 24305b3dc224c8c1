// Node BullMQ side of the interop tests. Connection from the same env vars as
// the Python worker (password read from its file, never from argv).
//   node interop.mjs produce QUEUE NAME DATA_JSON COUNT  -> JSON array of ids
//   node interop.mjs read QUEUE ID [ID...]                 -> JSON of the job (a list for several)
//   node interop.mjs events QUEUE N TIMEOUT_MS             -> "ready", then one JSON line per event
//   node interop.mjs add QUEUE NAME DATA_JSON OPTS_JSON [NAME DATA OPTS...] -> JSON id(s)
//   node interop.mjs fail-worker QUEUE N TIMEOUT_MS        -> a Node Worker failing every job
//                                                             until N have no attempts left
//   node interop.mjs delays QUEUE ID [ID...]               -> JSON [ms] of each `delayed` event
//                                                             (due time minus the event's time;
//                                                             {id: [ms]} for several ids)
//   node interop.mjs flow TREES_JSON                       -> FlowProducer.addBulk(trees): JSON ids
//   node interop.mjs logs QUEUE ID                         -> JSON of Job.getJobLogs
//   node interop.mjs every QUEUE ID EVERY_MS NAME DATA     -> upsertJobScheduler(id, {every})
import { readFileSync } from "node:fs";
import { FlowProducer, Queue, QueueEvents, Worker } from "bullmq";
import IORedis from "ioredis";

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
  const seen = [];
  for (const id of args) {
    const job = await queue.getJob(id);
    const state = job ? await job.getState() : null;
    seen.push(job ? {
      name: job.name, data: job.data, opts: job.opts, state, returnvalue: job.returnvalue,
      attemptsMade: job.attemptsMade, progress: job.progress, failedReason: job.failedReason,
      processedOn: job.processedOn, parentKey: job.parentKey ?? null,
    } : null);
  }
  console.log(JSON.stringify(args.length === 1 ? seen[0] : seen));
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
  events.on("progress", emit("progress"));
  events.on("delayed", emit("delayed"));
  events.on("waiting-children", emit("waiting-children"));
  setTimeout(done, timeoutMs);
  // QueueEvents reads from "$": give its first XREAD a moment, then say ready.
  setTimeout(() => console.log("ready"), 300);
} else if (cmd === "add") {
  const queue = new Queue(queueName, { connection });
  const ids = [];
  for (let i = 0; i < args.length; i += 3) {
    const job = await queue.add(args[i], JSON.parse(args[i + 1]), JSON.parse(args[i + 2]));
    ids.push(job.id);
  }
  console.log(JSON.stringify(args.length === 3 ? ids[0] : ids));
  await queue.close();
} else if (cmd === "fail-worker") {
  const [n, timeoutMs] = args.map(Number);
  let exhausted = 0;
  const worker = new Worker(queueName, async () => { throw new Error("node fails"); },
    { connection, autorun: false });
  const stop = async (code) => {
    console.log(JSON.stringify(exhausted));
    await worker.close();
    process.exit(code);
  };
  worker.on("failed", (job) => {
    if (job.attemptsMade >= job.opts.attempts && ++exhausted >= n) stop(0);
  });
  setTimeout(() => stop(1), timeoutMs);
  worker.run();
} else if (cmd === "delays") {
  const queue = new Queue(queueName, { connection });
  const client = new IORedis(connection);
  const entries = await client.xrange(queue.keys.events, "-", "+");
  client.disconnect();
  const delays = Object.fromEntries(args.map((id) => [id, []]));
  for (const [entryId, flat] of entries) {
    const f = {};
    for (let i = 0; i < flat.length; i += 2) f[flat[i]] = flat[i + 1];
    if (f.event === "delayed" && f.jobId in delays) {
      delays[f.jobId].push(Number(f.delay) - Number(entryId.split("-")[0]));
    }
  }
  console.log(JSON.stringify(args.length === 1 ? delays[args[0]] : delays));
  await queue.close();
} else if (cmd === "flow") {
  const flows = new FlowProducer({ connection });
  const ids = (node) => ({ id: node.job.id, queue: node.job.queueName,
    children: (node.children ?? []).map(ids) });
  const trees = await flows.addBulk(JSON.parse(queueName));
  console.log(JSON.stringify(trees.map(ids)));
  await flows.close();
} else if (cmd === "logs") {
  const queue = new Queue(queueName, { connection });
  console.log(JSON.stringify(await queue.getJobLogs(args[0])));
  await queue.close();
} else if (cmd === "every") {
  const [id, every, name, data] = args;
  const queue = new Queue(queueName, { connection });
  const job = await queue.upsertJobScheduler(id, { every: Number(every) },
    { name, data: JSON.parse(data) });
  console.log(JSON.stringify(job.id));
  await queue.close();
} else {
  console.error(`unknown command ${cmd}`);
  process.exit(2);
}
