// Cloudflare Queues in the lane: producer bindings (`env.<BINDING>.send/sendBatch`) and the
// consumer's `queue(batch, env, ctx)` event, backed by Miniflare's real queue broker.
//
// Miniflare's broker runs inside workerd and delivers each batch to the bindings host
// (bindings_host.mjs), which forwards it here over a service binding. The lane runs the
// Worker's handler on objects shaped like workerd's (`QueueController`, `QueueMessage`), then
// hands back the calls the handler made (ack, retry, ackAll, retryAll, in order), and the
// bindings host replays them on the broker's own messages. So batching, batch timeouts,
// retries, retry delays, max_retries and dead-letter queues are Miniflare's, not ours.
//
// Sends go the other way: the Worker's send() reaches the bindings host, which calls the real
// producer binding, so workerd validates content types and sizes. Message bodies cross the
// process boundary in a JSON encoding of structured-clone values (wireEncode/wireDecode),
// which both sides share: bindings_host.mjs embeds these functions' source.

// Structured-clone values as JSON: bytes, Dates, Maps and Sets get a one-key "$" tag, and a
// plain object with a "$" key is wrapped, so no body can be mistaken for a tag.
export function wireEncode(value) {
  if (value === undefined) return { $undefined: true };
  if (value === null || typeof value !== "object") {
    if (typeof value === "bigint") return { $bigint: String(value) };
    return value;
  }
  // By tag, not instanceof: workerd hands the bindings host values from another realm.
  const tag = Object.prototype.toString.call(value);
  if (tag === "[object Date]") return { $date: value.getTime() };
  if (tag === "[object ArrayBuffer]" || ArrayBuffer.isView(value)) {
    const bytes =
      tag === "[object ArrayBuffer]" ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    let binary = "";
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return { $bytes: btoa(binary) };
  }
  if (tag === "[object Map]") return { $map: [...value].map(([k, v]) => [wireEncode(k), wireEncode(v)]) };
  if (tag === "[object Set]") return { $set: [...value].map(wireEncode) };
  if (Array.isArray(value)) return value.map(wireEncode);
  const entries = Object.entries(value).map(([k, v]) => [k, wireEncode(v)]);
  const object = Object.fromEntries(entries);
  return entries.some(([k]) => k.startsWith("$")) ? { $object: object } : object;
}

export function wireDecode(value) {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(wireDecode);
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0].startsWith("$")) {
    const tagged = value[keys[0]];
    switch (keys[0]) {
      case "$undefined":
        return undefined;
      case "$bigint":
        return BigInt(tagged);
      case "$date":
        return new Date(tagged);
      case "$bytes":
        return Uint8Array.from(atob(tagged), (c) => c.charCodeAt(0));
      case "$map":
        return new Map(tagged.map(([k, v]) => [wireDecode(k), wireDecode(v)]));
      case "$set":
        return new Set(tagged.map(wireDecode));
      case "$object":
        return Object.fromEntries(Object.entries(tagged).map(([k, v]) => [k, wireDecode(v)]));
      default:
    }
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, wireDecode(v)]));
}

// What the bindings host needs to send on a queue: one producer binding per queue name.
export function producerBindingName(queueName) {
  return `LANE_QUEUE:${queueName}`;
}

// workerd's producer binding (its class is WorkerQueue, which the SDK's _EnvWrapper wraps).
export class WorkerQueue {
  #queues;
  #queueName;

  constructor(queues, queueName) {
    this.#queues = queues;
    this.#queueName = queueName;
  }

  async send(body, options = {}) {
    return await this.#queues.send(this.#queueName, "send", [{ body, ...pick(options, ["contentType", "delaySeconds"]) }], {});
  }

  async sendBatch(messages, options = {}) {
    const list = [...messages].map((m) => ({ body: m.body, ...pick(m, ["contentType", "delaySeconds"]) }));
    return await this.#queues.send(this.#queueName, "sendBatch", list, pick(options, ["delaySeconds"]));
  }
}

function pick(object, names) {
  const picked = {};
  for (const name of names) if (object?.[name] !== undefined && object[name] !== null) picked[name] = object[name];
  return picked;
}

// workerd's QueueMessage: what the handler reads, and ack()/retry() recorded as calls.
class QueueMessage {
  #calls;

  constructor(calls, { id, timestamp, body, attempts }) {
    this.#calls = calls;
    this.id = id;
    this.timestamp = new Date(timestamp);
    this.body = wireDecode(body);
    this.attempts = attempts;
  }

  ack() {
    this.#calls.push(["ack", this.id]);
  }

  retry(options = {}) {
    this.#calls.push(["retry", this.id, pick(options, ["delaySeconds"])]);
  }
}

// workerd's QueueController, the `batch` a module Worker's queue() handler receives.
class QueueController {
  #calls;

  constructor(calls, { queue, messages, metadata }) {
    this.#calls = calls;
    this.queue = queue;
    this.messages = messages.map((m) => new QueueMessage(calls, m));
    this.metadata = metadata ?? null;
  }

  ackAll() {
    this.#calls.push(["ackAll"]);
  }

  retryAll(options = {}) {
    this.#calls.push(["retryAll", pick(options, ["delaySeconds"])]);
  }
}

// Which messages of a batch the broker will retry, by workerd's rules for the calls (the first
// of ack/retry on a message wins, and so does the first of ackAll/retryAll) and Miniflare's
// for the outcome: a handler that raised has its whole batch retried.
export function retriedIds(messages, calls, failed) {
  if (failed) return new Set(messages.map((m) => m.id));
  const acked = new Set();
  const retried = new Set();
  let all = null;
  for (const [op, id] of calls) {
    if (op === "ack" && all !== "retry" && !retried.has(id)) acked.add(id);
    else if (op === "retry" && all !== "ack" && !acked.has(id)) retried.add(id);
    else if (op === "ackAll" && all === null) all = "ack";
    else if (op === "retryAll" && all === null) all = "retry";
  }
  return all === "retry" ? new Set(messages.map((m) => m.id)) : retried;
}

const DEFAULT_MAX_RETRIES = 3; // Cloudflare's default for a consumer

// The lane's side of every queue: sends, deliveries, and the bookkeeping drain() waits on.
export class LaneQueues {
  #outstanding = new Map(); // queue name -> messages sent and not yet settled
  #batches = [];
  #waiters = [];

  constructor(lane, { producers = {}, consumers = [] }) {
    this.lane = lane;
    this.producers = producers; // binding -> queue name
    this.consumers = new Map(consumers.map((c) => [c.queue, c]));
  }

  // The Miniflare options: a producer per queue name (the Worker's bindings and the driver
  // both send through them) and the Worker's consumers.
  miniflareOptions() {
    const names = new Set([...Object.values(this.producers), ...this.consumers.keys()]);
    for (const c of this.consumers.values()) if (c.dead_letter_queue) names.add(c.dead_letter_queue);
    const queueProducers = Object.fromEntries([...names].map((name) => [producerBindingName(name), { queueName: name }]));
    const queueConsumers = Object.fromEntries(
      [...this.consumers.values()].map((c) => [
        c.queue,
        {
          maxBatchSize: c.max_batch_size,
          maxBatchTimeout: c.max_batch_timeout,
          maxRetries: c.max_retries,
          retryDelay: c.retry_delay,
          ...(c.dead_letter_queue ? { deadLetterQueue: c.dead_letter_queue } : {}),
        },
      ]),
    );
    return names.size === 0 ? {} : { queueProducers, queueConsumers };
  }

  bindings() {
    return Object.fromEntries(Object.entries(this.producers).map(([binding, name]) => [binding, new WorkerQueue(this, name)]));
  }

  // Sends through the bindings host; counts the messages a consumer of this lane will get.
  async send(queueName, method, messages, options) {
    const encoded = messages.map((m) => ({ ...m, body: wireEncode(m.body) }));
    // Counted before sending: the broker may deliver the batch before send() returns.
    this.#count(queueName, messages.length);
    try {
      return await this.lane.bindingsHost("/queue/send", {
        binding: producerBindingName(queueName),
        method,
        messages: encoded,
        options,
      });
    } catch (error) {
      this.#count(queueName, -messages.length);
      throw error;
    }
  }

  #count(queueName, delta) {
    if (!this.consumers.has(queueName)) return;
    this.#outstanding.set(queueName, Math.max(0, (this.#outstanding.get(queueName) ?? 0) + delta));
    if (this.#settled()) for (const wake of this.#waiters.splice(0)) wake();
  }

  #settled() {
    return [...this.#outstanding.values()].every((n) => n === 0);
  }

  // One batch from the broker: the Worker's queue() event, then what to replay on it.
  async deliver(delivery) {
    const calls = [];
    const batch = new QueueController(calls, delivery);
    let error = null;
    try {
      await this.lane.defaultEvent("queue", (ctx) => [batch, this.lane.env, ctx], { relaxed: false });
    } catch (e) {
      error = String(e?.message ?? e);
      this.lane.reportError(e);
    }
    const consumer = this.consumers.get(delivery.queue);
    const maxAttempts = (consumer?.max_retries ?? DEFAULT_MAX_RETRIES) + 1;
    const retried = retriedIds(delivery.messages, calls, error !== null);
    const messages = delivery.messages.map(({ id, body, attempts }) => {
      let outcome = "acked";
      if (retried.has(id)) {
        if (attempts < maxAttempts) outcome = "retried";
        else outcome = consumer?.dead_letter_queue ? "dead-lettered" : "dropped";
      }
      return { id, body, attempts, outcome };
    });
    this.#batches.push({ queue: delivery.queue, messages, calls, error });
    const deadLettered = messages.filter((m) => m.outcome === "dead-lettered").length;
    if (deadLettered > 0) this.#count(consumer.dead_letter_queue, deadLettered);
    this.#count(delivery.queue, -messages.filter((m) => m.outcome !== "retried").length);
    return { calls, error };
  }

  // Resolves with the batches delivered since the last call once every message sent to a
  // consumed queue was acked, or dropped/dead-lettered after its last attempt.
  async drain(timeoutMs) {
    if (!this.#settled()) {
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          this.#waiters.splice(this.#waiters.indexOf(wake), 1);
          const left = [...this.#outstanding].filter(([, n]) => n > 0).map(([q, n]) => `${n} on ${q}`);
          reject(new Error(`queues not drained within ${timeoutMs} ms: ${left.join(", ")} outstanding`));
        }, timeoutMs);
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        this.#waiters.push(wake);
      });
    }
    return this.#batches.splice(0);
  }

  reset() {
    this.#outstanding.clear();
    this.#batches.splice(0);
  }
}
