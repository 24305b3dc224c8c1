// The queues the board shows: every queue of the spec and its dead-letter queue.
import { Queue } from 'bullmq';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';

// Spelled as in platform_spec/model.py (Queue.dlq_name); tests/dashboard checks
// that the board lists exactly the names the Python spec computes.
const DLQ_SUFFIX = '-dlq';

/** Queue names in board order: each queue, then its DLQ when dead-lettering is on. */
export function queueNames(spec) {
  const names = [];
  for (const [i, queue] of (spec.queues ?? []).entries()) {
    if (typeof queue?.name !== 'string') throw new Error(`queues[${i}].name: missing in the spec`);
    names.push(queue.name);
    if (queue.deadLetter?.enabled !== false) names.push(queue.name + DLQ_SUFFIX);
  }
  return names;
}

/** One bullmq Queue per name on the shared connection, wrapped for bull-board. */
export function boardQueues(spec, connection, { readOnly }) {
  const queues = queueNames(spec).map(
    // skipMetasUpdate: the constructor would otherwise write the queue's meta hash,
    // a write the read-only ACL user is refused.
    (name) => new Queue(name, { connection, prefix: spec.keyPrefix, skipMetasUpdate: true }),
  );
  const adapters = queues.map(
    (queue) => new BullMQAdapter(queue, { readOnlyMode: readOnly, allowRetries: !readOnly }),
  );
  return { queues, adapters };
}
