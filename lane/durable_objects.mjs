// In-process Durable Objects that follow workerd's dispatch for Python classes
// (python-entrypoint-helper's makeEntrypointProxyHandler): fetch and RPC methods go through
// introspection.wrapper_func; alarm and webSocketMessage/Close/Error are relaxed calls with the
// raw JS arguments. Events for one object run one at a time. Differences from workerd are
// listed in docs/runtime.md.
import { createHash, randomBytes } from "node:crypto";
import { WebSocket } from "./runtime.mjs";

const ALARM_MAX_RETRIES = 6;
const ALARM_FIRST_BACKOFF_MS = 2000;
const MAX_TAGS = 10;
const MAX_TAG_LENGTH = 256;

class DurableObjectId {
  #hex;

  constructor(hex, name) {
    this.#hex = hex;
    if (name !== undefined) this.name = name;
  }

  toString() {
    return this.#hex;
  }

  equals(other) {
    return other instanceof DurableObjectId && other.toString() === this.#hex;
  }
}

class DurableObjectStorage {
  #record;

  constructor(record) {
    this.#record = record;
  }

  get #data() {
    return this.#record.data;
  }

  async get(keyOrKeys) {
    if (Array.isArray(keyOrKeys)) {
      const found = new Map();
      for (const key of keyOrKeys) {
        if (this.#data.has(key)) found.set(key, structuredClone(this.#data.get(key)));
      }
      return found;
    }
    return this.#data.has(keyOrKeys) ? structuredClone(this.#data.get(keyOrKeys)) : undefined;
  }

  async put(keyOrEntries, value) {
    if (typeof keyOrEntries === "string") {
      if (value === undefined) throw new TypeError("put() needs a value");
      this.#data.set(keyOrEntries, structuredClone(value));
      return;
    }
    // Clone everything before writing anything, so a DataCloneError writes nothing.
    const entries = Object.entries(keyOrEntries).map(([k, v]) => [k, structuredClone(v)]);
    for (const [k, v] of entries) this.#data.set(k, v);
  }

  async delete(keyOrKeys) {
    if (Array.isArray(keyOrKeys)) {
      let count = 0;
      for (const key of keyOrKeys) if (this.#data.delete(key)) count += 1;
      return count;
    }
    return this.#data.delete(keyOrKeys);
  }

  async deleteAll() {
    this.#data.clear();
    // compat flag delete_all_deletes_alarm (on from 2026-04-01).
    this.#record.clearAlarm();
  }

  async list(options = {}) {
    const { prefix = "", start, startAfter, end, reverse = false, limit } = options;
    let keys = [...this.#data.keys()].filter((k) => k.startsWith(prefix)).sort();
    if (start !== undefined) keys = keys.filter((k) => k >= start);
    if (startAfter !== undefined) keys = keys.filter((k) => k > startAfter);
    if (end !== undefined) keys = keys.filter((k) => k < end);
    if (reverse) keys.reverse();
    if (limit !== undefined) keys = keys.slice(0, limit);
    return new Map(keys.map((k) => [k, structuredClone(this.#data.get(k))]));
  }

  async getAlarm() {
    return this.#record.alarm;
  }

  async setAlarm(scheduledTime) {
    const when = scheduledTime instanceof Date ? scheduledTime.getTime() : Number(scheduledTime);
    if (!Number.isFinite(when)) throw new TypeError("setAlarm() needs a Date or milliseconds");
    this.#record.scheduleAlarm(when);
  }

  async deleteAlarm() {
    this.#record.clearAlarm();
  }

  async sync() {}

  async transaction(closure) {
    // Single-threaded and in memory: the closure's writes are already atomic with respect to
    // other events of this object, which run one at a time.
    return await closure(this);
  }
}

class DurableObjectState {
  #record;

  constructor(record) {
    this.#record = record;
    this.id = record.id;
    this.storage = record.storage;
  }

  waitUntil(promise) {
    this.#record.pending.push(Promise.resolve(promise));
  }

  async blockConcurrencyWhile(callback) {
    // Events already run one at a time, so only the callback's result matters.
    return await callback();
  }

  acceptWebSocket(ws, tags = []) {
    if (!(ws instanceof WebSocket)) {
      throw new TypeError("acceptWebSocket() needs the server end of a WebSocketPair");
    }
    if (!Array.isArray(tags)) {
      throw new TypeError(
        "Failed to execute 'acceptWebSocket' on 'DurableObjectState': parameter 2 is not of type 'Array'.",
      );
    }
    if (tags.length > MAX_TAGS || tags.some((t) => typeof t !== "string" || t.length > MAX_TAG_LENGTH)) {
      throw new TypeError(`tags must be at most ${MAX_TAGS} strings of at most ${MAX_TAG_LENGTH} characters`);
    }
    if (ws.accepted) throw new TypeError("WebSocket already accepted");
    ws.accepted = true;
    this.#record.accept(ws, [...tags]);
  }

  getWebSockets(tag) {
    return this.#record.openSockets(tag);
  }

  getTags(ws) {
    const tags = this.#record.tags.get(ws);
    if (!tags) throw new TypeError("getTags() needs a WebSocket accepted by this object");
    return [...tags];
  }

  setWebSocketAutoResponse(pair) {
    this.#record.autoResponse = pair ?? null;
  }

  getWebSocketAutoResponse() {
    return this.#record.autoResponse;
  }

  getWebSocketAutoResponseTimestamp(ws) {
    const at = this.#record.autoResponseTimes.get(ws);
    return at === undefined ? null : new Date(at);
  }

  setHibernatableWebSocketEventTimeout() {}

  abort(reason) {
    this.#record.evictNow();
    throw new Error(reason ?? "Durable Object aborted");
  }
}

// One object: its storage, alarm and hibernatable sockets outlive its instance.
class ObjectRecord {
  data = new Map();
  alarm = null;
  alarmRetries = 0;
  instance = null;
  tags = new Map();
  autoResponse = null;
  autoResponseTimes = new Map();
  pending = [];
  #queue = Promise.resolve();
  #timer = null;

  constructor(namespace, id) {
    this.namespace = namespace;
    this.id = id;
    this.storage = new DurableObjectStorage(this);
  }

  get host() {
    return this.namespace.host;
  }

  // Runs one event after the previous one finished, then settles its waitUntil promises.
  enqueue(event) {
    const run = this.#queue.then(async () => {
      try {
        return await event();
      } finally {
        const pending = this.pending.splice(0);
        const outcomes = await Promise.allSettled(pending);
        for (const o of outcomes) if (o.status === "rejected") this.host.reportError(o.reason);
        this.namespace.save(this);
        this.host.afterEvent?.();
      }
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  async ensureInstance() {
    if (this.instance === null) {
      const state = new DurableObjectState(this);
      this.instance = await this.host.construct(this.namespace.className, state);
    }
    return this.instance;
  }

  evictNow() {
    if (this.instance !== null) {
      this.instance.destroy();
      this.instance = null;
    }
  }

  evict() {
    return this.enqueue(async () => this.evictNow());
  }

  fetch(request) {
    return this.enqueue(async () => {
      const instance = await this.ensureInstance();
      return await this.host.callMethod(instance, true, "fetch", [request]);
    });
  }

  rpc(method, args) {
    return this.enqueue(async () => {
      const instance = await this.ensureInstance();
      return await this.host.callMethod(instance, false, method, args);
    });
  }

  scheduleAlarm(when) {
    this.alarm = when;
    this.#arm();
  }

  clearAlarm() {
    this.alarm = null;
    this.alarmRetries = 0;
    this.#disarm();
  }

  // Fires the pending alarm after `delay` ms (by default when it is due), if alarms are automatic.
  #arm(delay = this.alarm - Date.now()) {
    this.#disarm();
    if (this.alarm === null || !this.namespace.autoAlarms) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.runAlarm().catch((e) => this.host.reportError(e));
    }, Math.max(0, delay));
  }

  #disarm() {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  // Stops the alarm timer without forgetting the alarm (the server is stopping).
  stopAlarm() {
    this.#disarm();
  }

  // Delivers the pending alarm now. A failed alarm is retried (up to 6 times, backing off
  // from 2 s when alarms fire on their own) unless the handler set a new alarm.
  runAlarm() {
    return this.enqueue(async () => {
      const scheduled = this.alarm;
      if (scheduled === null) return { ran: false, error: null, retryCount: this.alarmRetries };
      this.#disarm();
      this.alarm = null;
      const retryCount = this.alarmRetries;
      try {
        const instance = await this.ensureInstance();
        await this.host.callRelaxed(instance, "alarm", [{ retryCount, isRetry: retryCount > 0 }]);
        this.alarmRetries = 0;
        return { ran: true, error: null, retryCount };
      } catch (error) {
        // A new alarm the failed handler set replaces the retry, and starts with no retries.
        const retry = this.alarm === null && retryCount < ALARM_MAX_RETRIES;
        this.alarmRetries = retry ? retryCount + 1 : 0;
        if (retry) {
          this.alarm = scheduled;
          this.#arm(ALARM_FIRST_BACKOFF_MS * 2 ** retryCount);
        }
        this.host.reportError(error);
        return { ran: true, error: String(error?.message ?? error), retryCount };
      }
    });
  }

  accept(ws, tags) {
    this.tags.set(ws, tags);
    ws.onPeerEvent = (kind, payload) => {
      if (kind === "message") {
        const auto = this.autoResponse;
        if (auto && payload === auto.request) {
          this.autoResponseTimes.set(ws, Date.now());
          ws.send(auto.response);
          return;
        }
        this.#socketEvent("webSocketMessage", [ws, typeof payload === "string" ? payload : payload.buffer]);
      } else if (kind === "close") {
        ws.readyState = WebSocket.READY_STATE_CLOSED;
        this.tags.delete(ws);
        this.#socketEvent("webSocketClose", [ws, payload.code, payload.reason, payload.wasClean]);
      } else if (kind === "error") {
        ws.readyState = WebSocket.READY_STATE_CLOSED;
        this.tags.delete(ws);
        this.#socketEvent("webSocketError", [ws, payload]);
      }
    };
  }

  #socketEvent(handler, args) {
    this.enqueue(async () => {
      const instance = await this.ensureInstance();
      if (typeof instance[handler] !== "function") return;
      await this.host.callRelaxed(instance, handler, args);
    }).catch((e) => this.host.reportError(e));
  }

  openSockets(tag) {
    return [...this.tags.entries()]
      .filter(([ws, tags]) => ws.readyState === WebSocket.READY_STATE_OPEN && (tag === undefined || tags.includes(tag)))
      .map(([ws]) => ws);
  }

  // Resolves once every event queued so far has run.
  idle() {
    return this.enqueue(async () => {});
  }

  reset() {
    this.evictNow();
    this.clearAlarm();
    this.data.clear();
    for (const ws of this.tags.keys()) ws.readyState = WebSocket.READY_STATE_CLOSED;
    this.tags.clear();
  }
}

// workerd's stub class is named DurableObject; any other property is an RPC method.
class DurableObject {}

function makeStub(record) {
  const target = new DurableObject();
  return new Proxy(target, {
    get(t, prop) {
      if (typeof prop !== "string" || prop === "then") return undefined;
      if (prop === "constructor") return DurableObject;
      if (prop === "id") return record.id;
      if (prop === "name") return record.id.name;
      if (prop === "fetch") {
        return (input, init) => record.fetch(new Request(input, init));
      }
      return (...args) => record.rpc(prop, args);
    },
  });
}

export class DurableObjectNamespace {
  #objects = new Map();

  constructor(bindingName, className, host, { autoAlarms, store = null }) {
    this.bindingName = bindingName;
    this.className = className;
    this.host = host;
    this.autoAlarms = autoAlarms;
    this.store = store;
  }

  // Brings back every object the store saved: storage and alarm (an overdue alarm fires now).
  restore() {
    for (const saved of this.store?.load(this.bindingName) ?? []) {
      const id = saved.name === undefined ? new DurableObjectId(saved.id) : this.idFromName(saved.name);
      const record = this.#record(id);
      record.data = saved.data;
      if (saved.alarm !== null) record.scheduleAlarm(saved.alarm);
    }
  }

  save(record) {
    this.store?.save(this.bindingName, record.id.toString(), {
      name: record.id.name,
      data: record.data,
      alarm: record.alarm,
    });
  }

  stopAlarms() {
    for (const record of this.#objects.values()) record.stopAlarm();
  }

  idFromName(name) {
    const hex = createHash("sha256").update(`${this.bindingName}\0${name}`).digest("hex");
    return new DurableObjectId(hex, name);
  }

  newUniqueId() {
    return new DurableObjectId(randomBytes(32).toString("hex"));
  }

  idFromString(hex) {
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new TypeError("Invalid Durable Object ID: must be 64 hex digits");
    return this.#record(new DurableObjectId(hex)).id;
  }

  get(id) {
    return makeStub(this.#record(id));
  }

  getByName(name) {
    return this.get(this.idFromName(name));
  }

  jurisdiction() {
    return this;
  }

  // The lane's own access, by name, for the driver.
  recordByName(name) {
    return this.#record(this.idFromName(name));
  }

  // Resolves once every object has run the events queued so far.
  idleAll() {
    return [...this.#objects.values()].map((record) => record.idle());
  }

  reset() {
    for (const record of this.#objects.values()) record.reset();
    this.#objects.clear();
  }

  #record(id) {
    const key = id.toString();
    let record = this.#objects.get(key);
    if (!record) {
      record = new ObjectRecord(this, id);
      this.#objects.set(key, record);
    }
    return record;
  }
}
