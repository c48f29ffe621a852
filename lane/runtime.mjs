// Workers runtime globals and event objects that Node lacks, shaped like workerd's.
// Every difference from workerd is listed in docs/runtime.md.
import { serialize } from "node:v8";

export class ExecutionContext {
  #pending = [];
  props = {};

  get [Symbol.toStringTag]() {
    // workerd's patchWaitUntil only patches objects that report this tag.
    return "ExecutionContext";
  }

  waitUntil(promise) {
    this.#pending.push(Promise.resolve(promise));
  }

  passThroughOnException() {}

  // Settles every waitUntil promise, including ones added while waiting; returns the errors.
  async settle() {
    const errors = [];
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0);
      for (const outcome of await Promise.allSettled(batch)) {
        if (outcome.status === "rejected") errors.push(outcome.reason);
      }
    }
    return errors;
  }
}

export class ScheduledController {
  #noRetry = false;

  constructor(scheduledTime, cron) {
    this.scheduledTime = scheduledTime;
    this.cron = cron;
  }

  noRetry() {
    this.#noRetry = true;
  }

  get retryDisabled() {
    return this.#noRetry;
  }
}

// workerd's getPatchedWaitUntil: a Python awaitable passed to waitUntil is a borrowed PyProxy
// that Pyodide destroys when the call returns, so it is copied first.
const waitUntilPatched = new WeakSet();
export function patchWaitUntil(ctx) {
  let tag;
  try {
    tag = Object.prototype.toString.call(ctx);
  } catch {
    return;
  }
  if (tag !== "[object ExecutionContext]" || waitUntilPatched.has(ctx)) return;
  const original = ctx.waitUntil.bind(ctx);
  ctx.waitUntil = (p) => {
    original(
      (async () => {
        if (p && typeof p === "object" && "copy" in p) p = p.copy();
        try {
          await p;
        } finally {
          if (p && typeof p === "object" && "destroy" in p) p.destroy();
        }
      })(),
    );
  };
  waitUntilPatched.add(ctx);
}

// undici's Response rejects status 101 and has no webSocket; workerd's accepts both.
// (WeakMaps, not private fields: undici reads `status` from inside the super constructor.)
const NodeResponse = globalThis.Response;
const upgrades = new WeakSet();
const webSockets = new WeakMap();
export class Response extends NodeResponse {
  constructor(body, init) {
    const upgrade = init?.status === 101;
    if (upgrade && !init.webSocket) {
      throw new RangeError("Responses with status 101 must carry a webSocket");
    }
    super(body, upgrade ? { ...init, status: 200 } : init);
    if (upgrade) upgrades.add(this);
    if (init?.webSocket) webSockets.set(this, init.webSocket);
  }

  get status() {
    return upgrades.has(this) ? 101 : super.status;
  }

  get ok() {
    return upgrades.has(this) ? false : super.ok;
  }

  get webSocket() {
    return webSockets.get(this) ?? null;
  }
}

const MAX_ATTACHMENT_BYTES = 2048;
const READY_STATE = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 };

function checkMessage(data) {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  }
  throw new TypeError(
    "Failed to execute 'send' on 'WebSocket': parameter 1 is not of type 'ArrayBuffer or ArrayBufferView or string'.",
  );
}

// One end of a WebSocketPair. The server end is either accepted for hibernation
// (state.acceptWebSocket: events go to the Durable Object) or with accept() (events go to
// listeners); the client end is held by the lane on behalf of the test (lane/sockets.mjs).
export class WebSocket extends EventTarget {
  static READY_STATE_CONNECTING = 0;
  static READY_STATE_OPEN = 1;
  static READY_STATE_CLOSING = 2;
  static READY_STATE_CLOSED = 3;

  readyState = READY_STATE.OPEN;
  url = null;
  protocol = "";
  extensions = "";
  peer = null;
  #attachment;
  #hasAttachment = false;
  // Set by whoever consumes this end's incoming traffic: (kind, payload) => void. Frames that
  // arrive before then wait, as workerd queues what a Durable Object sends on a socket it
  // accepted before its 101 reached the client.
  #onPeerEvent = null;
  #pending = [];
  accepted = false;

  get onPeerEvent() {
    return this.#onPeerEvent;
  }

  set onPeerEvent(handler) {
    this.#onPeerEvent = handler;
    for (const [kind, payload] of this.#pending.splice(0)) handler(kind, payload);
  }

  // Hands this end one event from its peer (or keeps it until a consumer is attached).
  deliver(kind, payload) {
    if (this.#onPeerEvent) this.#onPeerEvent(kind, payload);
    else this.#pending.push([kind, payload]);
  }

  accept() {
    if (this.accepted) throw new TypeError("WebSocket already accepted");
    this.accepted = true;
    this.onPeerEvent = (kind, payload) => {
      if (kind === "message") this.dispatchEvent(Object.assign(new Event("message"), { data: payload }));
      else if (kind === "close") {
        this.readyState = READY_STATE.CLOSED;
        this.dispatchEvent(Object.assign(new Event("close"), payload));
      }
    };
  }

  send(data) {
    if (this.readyState !== READY_STATE.OPEN) {
      throw new TypeError("Failed to execute 'send' on 'WebSocket': The WebSocket is not open.");
    }
    const message = checkMessage(data);
    queueMicrotask(() => this.peer?.deliver("message", message));
  }

  close(code = 1000, reason = "") {
    if (this.readyState >= READY_STATE.CLOSING) return;
    this.readyState = READY_STATE.CLOSED;
    queueMicrotask(() => this.peer?.deliver("close", { code, reason, wasClean: true }));
  }

  serializeAttachment(value) {
    const copy = structuredClone(value);
    const size = serialize(copy).length;
    if (size > MAX_ATTACHMENT_BYTES) {
      throw new RangeError(
        `The serialized attachment is ${size} bytes; the limit is ${MAX_ATTACHMENT_BYTES}.`,
      );
    }
    this.#attachment = copy;
    this.#hasAttachment = true;
  }

  deserializeAttachment() {
    return this.#hasAttachment ? structuredClone(this.#attachment) : null;
  }
}

export class WebSocketPair {
  constructor() {
    const client = new WebSocket();
    const server = new WebSocket();
    client.peer = server;
    server.peer = client;
    this[0] = client;
    this[1] = server;
  }
}

export class WebSocketRequestResponsePair {
  #request;
  #response;

  constructor(request, response) {
    if (typeof request !== "string" || typeof response !== "string") {
      throw new TypeError("WebSocketRequestResponsePair takes two strings");
    }
    this.#request = request;
    this.#response = response;
  }

  get request() {
    return this.#request;
  }

  get response() {
    return this.#response;
  }
}

// Installs the globals workerd has and Node lacks (or has with different behaviour).
export function installGlobals() {
  globalThis.Response = Response;
  globalThis.WebSocketPair = WebSocketPair;
  globalThis.WebSocketRequestResponsePair = WebSocketRequestResponsePair;
}
