// The Pyodide lane: runs one Python Worker's entry module on Pyodide 314 in Node 22, with
// real Miniflare R2/KV/Queues bindings and in-process Durable Objects, driven over JSON lines.
//
//   node lane/lane.mjs < commands > replies
//
// Each stdin line is {"id": n, "op": "...", ...}; each reply is {"id": n, "ok": true,
// "result": ...} or {"id": n, "ok": false, "error": "...", "kind": "worker" | "lane"}, and
// carries "memory": the size in bytes of Pyodide's WebAssembly memory once the command ended.
// The first command must be {"op": "start", "config": {...}}. The Python driver
// (tests/lane/driver.py) speaks this protocol; docs/runtime.md describes both.
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import readline from "node:readline";
import { performance } from "node:perf_hooks";
import { loadPyodide } from "pyodide";
import { Miniflare, Response as MiniflareResponse, convertV4MiniflareOptions } from "miniflare";
import {
  ExecutionContext,
  ScheduledController,
  WebSocket,
  WebSocketPair,
  installGlobals,
  patchWaitUntil,
} from "./runtime.mjs";
import { DurableObjectNamespace } from "./durable_objects.mjs";
import { BINDINGS_HOST_SCRIPT, callBindingsHost, listR2 } from "./bindings_host.mjs";
import { LaneQueues, producerBindingName, wireDecode } from "./queues.mjs";
import { DevServer } from "./serve.mjs";
import { DurableObjectStore } from "./persistence.mjs";

const LANE_DIR = path.dirname(new URL(import.meta.url).pathname);
const SESSION_DIR = "/session/metadata"; // where workerd puts the Worker's modules
const DEFAULT_ORIGIN = "http://localhost:8787";

// Flags the Python SDK reads, as workerd sets them for compatibility_date 2026-11-01.
const COMPATIBILITY_FLAGS = {
  python_workers: true,
  python_external_sdk: true,
  python_workflows_implicit_dependencies: true,
  python_request_headers_preserve_commas: true,
  delete_all_deletes_alarm: true,
};

const logs = [];
// Driven by tests, every line is kept for the `logs` command and echoed with a prefix; served
// (`flaresuite dev`), lines go to the terminal as the Worker wrote them, and are not kept.
let serving = false;
function log(line) {
  if (serving) {
    process.stderr.write(`${line}\n`);
    return;
  }
  logs.push(line);
  process.stderr.write(`[worker] ${line}\n`);
}
// The protocol owns stdout: anything the Worker or its libraries log goes to `logs`.
for (const level of ["log", "info", "warn", "error", "debug"]) {
  console[level] = (...args) => log(args.map((a) => (typeof a === "string" ? a : String(a))).join(" "));
}

class WorkerError extends Error {}

let lane = null;

class Lane {
  constructor(config) {
    this.config = config;
    this.timings = {};
    this.sockets = new Map();
    this.nextSocket = 1;
    this.laneErrors = [];
  }

  async start() {
    const t0 = performance.now();
    installGlobals();
    const { r2_buckets: r2 = [], kv_namespaces: kv = [] } = this.config;
    const persist = this.config.persist_path ?? null;
    this.queues = new LaneQueues(this, {
      producers: this.config.queues ?? {},
      consumers: this.config.queue_consumers ?? [],
    });
    // Miniflare's workerd starts in its own process while Pyodide loads here; the env object
    // the Worker will see exists from the start and gets its bindings once Miniflare is up.
    // Without a main module the lane only hosts bindings (`flaresuite dev r2 ...`).
    this.env = {};
    const timed = async (work) => {
      const began = performance.now();
      await work;
      return performance.now() - began;
    };
    const python = this.config.main_module ? timed(this.#loadPython()) : Promise.resolve(0);
    python.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
    const miniflareMs = await timed(this.#startMiniflare(persist));

    for (const [name, value] of Object.entries(this.config.vars ?? {})) this.env[name] = value;
    for (const name of r2) {
      this.env[name] = rebadge(this.r2[name], "R2Bucket", { list: (options) => listR2(this.mf, name, options) });
    }
    for (const name of kv) this.env[name] = rebadge(this.kv[name], "KvNamespace");
    Object.assign(this.env, this.queues.bindings());
    this.namespaces = {};
    const store = persist ? new DurableObjectStore(persist) : null;
    for (const [binding, className] of Object.entries(this.config.durable_objects ?? {})) {
      this.namespaces[binding] = new DurableObjectNamespace(binding, className, this, {
        autoAlarms: (this.config.alarms ?? "auto") === "auto",
        store,
      });
      this.env[binding] = this.namespaces[binding];
    }

    const pyodideMs = await python;
    const t2 = performance.now();
    if (this.config.main_module) {
      await this.#importMain();
      // Restored objects may have alarms due, which need the Worker's classes.
      for (const ns of Object.values(this.namespaces)) ns.restore();
    }
    const t3 = performance.now();
    // miniflare_ms and pyodide_ms overlap: total_ms is the wall time.
    this.timings = { miniflare_ms: miniflareMs, pyodide_ms: pyodideMs, import_ms: t3 - t2, total_ms: t3 - t0 };
    return { timings: this.timings, entrypoints: this.entrypoints };
  }

  // Miniflare (and its workerd) only hosts R2, KV and queues: a Worker without them does not
  // pay for it.
  async #startMiniflare(persist) {
    const { r2_buckets: r2 = [], kv_namespaces: kv = [], resource_ids: ids = {} } = this.config;
    // A binding's resource id (bucket name, namespace id) names its storage, as in wrangler.
    const resources = (names) => Object.fromEntries(names.map((name) => [name, ids[name] ?? name]));
    const queueOptions = this.queues.miniflareOptions();
    this.mf = null;
    if (r2.length + kv.length > 0 || queueOptions.queueProducers) {
      this.mf = new Miniflare(
        convertV4MiniflareOptions({
          modules: true,
          script: BINDINGS_HOST_SCRIPT,
          r2Buckets: resources(r2),
          kvNamespaces: resources(kv),
          ...(persist ? { resourcePersistencePath: persist } : {}),
          ...queueOptions,
          // The broker delivers each batch to the bindings host, which hands it to the lane.
          serviceBindings: {
            LANE: async (request) => MiniflareResponse.json(await this.queues.deliver(await request.json())),
          },
          compatibilityDate: this.config.compatibility_date,
        }),
      );
      await this.mf.ready;
    }
    this.r2 = {};
    for (const name of r2) this.r2[name] = await this.mf.getR2Bucket(name);
    this.kv = {};
    for (const name of kv) this.kv[name] = await this.mf.getKVNamespace(name);
  }

  async #loadPython() {
    this.pyodide = await loadPyodide({
      stdout: log,
      stderr: log,
    });
    const py = this.pyodide;
    // workerd disables loadPackage: a Worker gets only what it vendors.
    py.loadPackage = () => {
      throw new Error("pyodide.loadPackage is disabled");
    };
    const sitePackages = py.runPython("import site; site.getsitepackages()[0]");
    for (const wheel of this.config.wheels) {
      const buffer = await readFile(wheel);
      py.unpackArchive(new Uint8Array(buffer), "wheel", { extractDir: sitePackages });
    }
    const cloudflareWorkersModule = {
      env: this.env,
      waitUntil: (p) => this.moduleWaitUntil.push(Promise.resolve(p)),
    };
    this.moduleWaitUntil = [];
    py.registerJsModule("_lane_entrypoint_js", {
      doAnImport: async (name) => {
        if (name === "cloudflare:workers") return cloudflareWorkersModule;
        if (name === "cloudflare:sockets") return sockets;
        return await import(name);
      },
      cloudflareWorkersModule,
      cloudflareSocketsModule: sockets,
      workerEntrypoint: class WorkerEntrypoint {},
      patchWaitUntil,
    });
    py.registerJsModule("_cloudflare_compat_flags", COMPATIBILITY_FLAGS);
    for (const file of ["_pyodide_entrypoint_helper.py", "lane_introspection.py"]) {
      const source = await readFile(path.join(LANE_DIR, "python", file));
      py.FS.writeFile(`${sitePackages}/${file}`, new Uint8Array(source));
    }
    for (const root of this.config.module_roots) await copyTree(py, root, SESSION_DIR);
    py.runPython(`import sys; sys.path.insert(0, ${JSON.stringify(SESSION_DIR)})`);
    this.introspection = py.pyimport("lane_introspection");
  }

  async #importMain() {
    const py = this.pyodide;
    const name = this.config.main_module;
    this.mainModule = py.pyimport(name);
    const classes = this.introspection.collect_entrypoint_classes(this.mainModule);
    this.entrypoints = {
      durableObjects: classes.durableObjects.map((c) => c.className),
      workerEntrypoints: classes.workerEntrypoints.map((c) => c.className),
    };
    for (const [binding, className] of Object.entries(this.config.durable_objects ?? {})) {
      if (!this.entrypoints.durableObjects.includes(className)) {
        throw new Error(`${binding}: ${name} exports no DurableObject class ${className}`);
      }
    }
  }

  // workerd's initPyInstance: the class is called with (ctx, env), not relaxed.
  async construct(className, ctx) {
    const cls = this.mainModule[className];
    if (typeof cls !== "function") {
      throw new TypeError(`There is no '${className}' class defined in the Python Worker's main module`);
    }
    return await cls.callWithOptions({ relaxed: false }, ctx, this.env);
  }

  // workerd's makeEntrypointProxyHandler for fetch and RPC methods.
  async callMethod(instance, relaxed, prop, args) {
    if (typeof instance[prop] !== "function") throw new TypeError(`Method ${prop} does not exist`);
    return await this.introspection.wrapper_func.callWithOptions(
      { relaxed: false },
      relaxed,
      instance,
      prop,
      ...args,
    );
  }

  // ... and for scheduled-style handlers that workerd calls relaxed with raw JS arguments.
  async callRelaxed(instance, prop, args) {
    if (typeof instance[prop] !== "function") throw new TypeError(`Method ${prop} does not exist`);
    return await instance[prop].callRelaxed(...args);
  }

  reportError(error) {
    log(`uncaught: ${error?.stack ?? error}`);
  }

  // The size of Pyodide's WebAssembly memory (the Python heap included). Linear memory never
  // shrinks, so this is also the peak so far, the figure Cloudflare's 128 MB limit applies to.
  memoryBytes() {
    return this.pyodide?._module?.HEAPU8?.length ?? null;
  }

  // Called after every event, including those that run in the background (queue batches).
  afterEvent() {
    this.onEvent?.();
  }

  // One operation of the bindings host (bindings_host.mjs).
  async bindingsHost(route, args) {
    return await callBindingsHost(this.mf, route, args);
  }

  // One event on a fresh Default(ctx, env), finished only when its waitUntil promises settle.
  async defaultEvent(prop, args, { relaxed }) {
    const ctx = new ExecutionContext();
    const instance = await this.construct("Default", ctx);
    try {
      const result = await this.callMethod(instance, relaxed, prop, [...args(ctx)]);
      await this.#settle(ctx);
      return result;
    } catch (error) {
      await this.#settle(ctx).catch(() => {});
      throw error;
    } finally {
      instance.destroy();
      this.afterEvent();
    }
  }

  async #settle(ctx) {
    const errors = await ctx.settle();
    const moduleLevel = await Promise.allSettled(this.moduleWaitUntil.splice(0));
    for (const o of moduleLevel) if (o.status === "rejected") errors.push(o.reason);
    if (errors.length > 0) {
      throw new WorkerError(`ctx.waitUntil promise rejected: ${errors.map((e) => e?.message ?? e).join("; ")}`);
    }
  }

  // The Request a driver command describes: path on the configured origin, base64 body.
  #request({ method = "GET", path: target = "/", headers = [], body = null }) {
    return new Request(new URL(target, this.config.origin ?? DEFAULT_ORIGIN), {
      method,
      headers,
      body: body === null ? undefined : Buffer.from(body, "base64"),
    });
  }

  async fetch(command) {
    return await this.#wireResponse(await this.fetchRequest(this.#request(command)));
  }

  // Default.fetch(request), checked as workerd checks what a fetch handler returns.
  async fetchRequest(request) {
    const response = await this.defaultEvent("fetch", (ctx) => [request, this.env, ctx], {
      relaxed: true,
    });
    if (!(response instanceof globalThis.Response)) {
      throw new WorkerError(`fetch handler returned ${String(response)}, not a Response`);
    }
    return response;
  }

  async scheduled({ cron, scheduled_time: scheduledTime }) {
    const controller = new ScheduledController(scheduledTime ?? Date.now(), cron);
    await this.defaultEvent("scheduled", (ctx) => [controller, this.env, ctx], { relaxed: false });
    return { outcome: "ok", no_retry: controller.retryDisabled };
  }

  async rpc({ method, args = [] }) {
    return toWire(await this.defaultEvent(method, () => args, { relaxed: false }));
  }

  async #wireResponse(response) {
    if (!(response instanceof globalThis.Response)) {
      throw new WorkerError(`fetch handler returned ${String(response)}, not a Response`);
    }
    const result = {
      status: response.status,
      headers: [...response.headers.entries()],
      body: Buffer.from(await response.arrayBuffer()).toString("base64"),
      websocket: null,
    };
    if (response.webSocket) result.websocket = this.#holdClient(response.webSocket);
    return result;
  }

  // The test's end of a WebSocket: incoming frames queue until ws_receive takes them.
  #holdClient(ws) {
    if (!(ws instanceof WebSocket)) throw new WorkerError("101 response carries a foreign webSocket");
    const handle = this.nextSocket++;
    const held = { ws, queue: [], waiters: [] };
    ws.accepted = true;
    ws.onPeerEvent = (kind, payload) => {
      const event =
        kind === "message"
          ? typeof payload === "string"
            ? { type: "text", data: payload }
            : { type: "binary", data: Buffer.from(payload).toString("base64") }
          : { type: "close", code: payload.code, reason: payload.reason };
      if (kind === "close") ws.readyState = WebSocket.READY_STATE_CLOSED;
      const waiter = held.waiters.shift();
      if (waiter) waiter(event);
      else held.queue.push(event);
    };
    this.sockets.set(handle, held);
    return handle;
  }

  #socket(handle) {
    const held = this.sockets.get(handle);
    if (!held) throw new Error(`no WebSocket handle ${handle}`);
    return held;
  }

  async wsSend({ handle, text = null, binary = null }) {
    const { ws } = this.#socket(handle);
    ws.send(text ?? new Uint8Array(Buffer.from(binary, "base64")));
    await this.#quiesce();
    return null;
  }

  async wsReceive({ handle, timeout_ms: timeoutMs = 5000 }) {
    const held = this.#socket(handle);
    if (held.queue.length > 0) return held.queue.shift();
    return await new Promise((resolve) => {
      const timer = setTimeout(() => {
        held.waiters.splice(held.waiters.indexOf(waiter), 1);
        resolve({ type: "timeout" });
      }, timeoutMs);
      const waiter = (event) => {
        clearTimeout(timer);
        resolve(event);
      };
      held.waiters.push(waiter);
    });
  }

  async wsClose({ handle, code = 1000, reason = "", clean = true }) {
    const { ws } = this.#socket(handle);
    if (clean) {
      ws.close(code, reason);
    } else {
      // An abnormal end (the client vanished): the server sees a 1006 close that was not clean.
      ws.readyState = WebSocket.READY_STATE_CLOSED;
      queueMicrotask(() => ws.peer?.deliver("close", { code: 1006, reason: "", wasClean: false }));
    }
    await this.#quiesce();
    return null;
  }

  async wsError({ handle, message }) {
    const { ws } = this.#socket(handle);
    ws.readyState = WebSocket.READY_STATE_CLOSED;
    queueMicrotask(() => ws.peer?.deliver("error", new Error(message)));
    await this.#quiesce();
    return null;
  }

  // Lets queued microtasks and Durable Object events run, so a reply means "delivered".
  async #quiesce() {
    await new Promise((resolve) => setImmediate(resolve));
    await Promise.all(Object.values(this.namespaces).flatMap((ns) => ns.idleAll()));
  }

  #namespace(binding) {
    const ns = this.namespaces[binding];
    if (!ns) throw new Error(`no Durable Object binding ${binding}`);
    return ns;
  }

  async doFetch({ binding, name, ...command }) {
    const stub = this.#namespace(binding).getByName(name);
    return await this.#wireResponse(await stub.fetch(this.#request(command)));
  }

  async doCall({ binding, name, method, args = [] }) {
    const stub = this.#namespace(binding).getByName(name);
    return toWire(await stub[method](...args));
  }

  async doAlarm({ binding, name }) {
    return await this.#namespace(binding).recordByName(name).runAlarm();
  }

  async doState({ binding, name }) {
    const record = this.#namespace(binding).recordByName(name);
    await record.idle();
    return {
      storage: toWire(Object.fromEntries(record.data)),
      alarm: record.alarm,
      alarm_retries: record.alarmRetries,
      live: record.instance !== null,
      websockets: record.openSockets().map((ws) => ({
        tags: record.tags.get(ws),
        attachment: toWire(ws.deserializeAttachment()),
      })),
    };
  }

  async doEvict({ binding, name }) {
    await this.#namespace(binding).recordByName(name).evict();
    return null;
  }

  #bucket(name) {
    const bucket = this.r2[name];
    if (!bucket) throw new Error(`no R2 binding ${name}`);
    return bucket;
  }

  async r2Put({ bucket, key, body, content_type: contentType, cache_control: cacheControl, custom_metadata: customMetadata }) {
    const httpMetadata = {};
    if (contentType) httpMetadata.contentType = contentType;
    if (cacheControl) httpMetadata.cacheControl = cacheControl;
    await this.#bucket(bucket).put(key, new Uint8Array(Buffer.from(body, "base64")), {
      httpMetadata,
      customMetadata: customMetadata ?? {},
    });
    return null;
  }

  async r2PutMany({ bucket, objects }) {
    const target = this.#bucket(bucket);
    for (let i = 0; i < objects.length; i += 50) {
      await Promise.all(
        objects.slice(i, i + 50).map(({ key, body }) => target.put(key, new Uint8Array(Buffer.from(body, "base64")))),
      );
    }
    return null;
  }

  async r2Get({ bucket, key }) {
    const found = await this.#bucket(bucket).get(key);
    if (found === null) return null;
    const body = Buffer.from(await found.arrayBuffer()).toString("base64");
    return {
      key,
      body,
      size: found.size,
      etag: found.etag,
      content_type: found.httpMetadata?.contentType ?? null,
      cache_control: found.httpMetadata?.cacheControl ?? null,
      custom_metadata: { ...(found.customMetadata ?? {}) },
    };
  }

  async r2List({ bucket, prefix = "" }) {
    this.#bucket(bucket); // refuses an unknown binding by name
    const keys = [];
    let cursor;
    for (;;) {
      const page = await listR2(this.mf, bucket, { prefix, cursor, limit: 1000 });
      for (const object of page.objects) keys.push(object.key);
      if (!page.truncated) return keys;
      cursor = page.cursor;
    }
  }

  async r2Delete({ bucket, keys }) {
    for (let i = 0; i < keys.length; i += 1000) await this.#bucket(bucket).delete(keys.slice(i, i + 1000));
    return null;
  }

  #kv(name) {
    const namespace = this.kv[name];
    if (!namespace) throw new Error(`no KV binding ${name}`);
    return namespace;
  }

  async kvGet({ namespace, key }) {
    return await this.#kv(namespace).get(key);
  }

  async kvPut({ namespace, key, value, expiration_ttl: expirationTtl }) {
    await this.#kv(namespace).put(key, value, expirationTtl ? { expirationTtl } : {});
    return null;
  }

  async kvList({ namespace, prefix = "" }) {
    const keys = [];
    let cursor;
    for (;;) {
      const page = await this.#kv(namespace).list({ prefix, cursor });
      for (const key of page.keys) keys.push({ name: key.name, expiration: key.expiration ?? null });
      if (page.list_complete) return keys;
      cursor = page.cursor;
    }
  }

  async kvDelete({ namespace, key }) {
    await this.#kv(namespace).delete(key);
    return null;
  }

  // A message sent from outside the Worker, as its producer binding would send it.
  async queueSend({ queue, body, content_type: contentType, delay_seconds: delaySeconds }) {
    const message = { body: wireDecode(body) };
    if (contentType) message.contentType = contentType;
    if (delaySeconds) message.delaySeconds = delaySeconds;
    if (!this.mf || !this.queues.miniflareOptions().queueProducers?.[producerBindingName(queue)]) {
      throw new Error(`no queue ${queue} in this lane's producers or consumers`);
    }
    await this.queues.send(queue, "send", [message], {});
    return null;
  }

  async queueDrain({ timeout_ms: timeoutMs = 30000 }) {
    return toWire(await this.queues.drain(timeoutMs));
  }

  async reset() {
    for (const name of Object.keys(this.r2)) {
      await this.r2Delete({ bucket: name, keys: await this.r2List({ bucket: name }) });
    }
    for (const name of Object.keys(this.kv)) {
      for (const { name: key } of await this.kvList({ namespace: name })) await this.#kv(name).delete(key);
    }
    for (const ns of Object.values(this.namespaces)) ns.reset();
    this.queues.reset();
    this.sockets.clear();
    logs.splice(0);
    return null;
  }

  async runPython({ code }) {
    const value = this.pyodide.runPython(code);
    if (typeof value?.toJs !== "function") return toWire(value);
    try {
      return toWire(value.toJs({ dict_converter: Object.fromEntries }));
    } finally {
      value.destroy();
    }
  }

  // Serves the Worker over HTTP until the process is told to stop (serve.mjs).
  async serve({ host, port }) {
    serving = true;
    logs.splice(0);
    this.server = new DevServer(this, log);
    for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => shutdown());
    return await this.server.listen({ host, port });
  }

  async stop() {
    await this.server?.close();
    for (const ns of Object.values(this.namespaces ?? {})) ns.stopAlarms();
    await this.mf?.dispose();
    return null;
  }
}

// Stops serving, disposes Miniflare (and its workerd) and exits: on stdin's end, SIGINT or
// SIGTERM, whichever comes first.
let stopping = null;
function shutdown() {
  stopping ??= (async () => {
    await lane?.stop().catch((error) => process.stderr.write(`${error?.stack ?? error}\n`));
    process.exit(0);
  })();
  return stopping;
}

// Miniflare's binding proxies have a null prototype, but the SDK's _EnvWrapper picks its
// wrapper by constructor.name, so each one is presented under workerd's class name.
// `methods` replace the proxy's own (R2's list, see bindings_host.mjs). A binding's members
// never change, so each is looked up once: Miniflare caches the methods it finds but not the
// misses, and Pyodide probes five absent ones (next, get, set, has, includes) whenever the
// binding crosses into Python, each a round trip into workerd.
function rebadge(binding, className, methods = {}) {
  const Named = { [className]: class {} }[className];
  const members = new Map([["constructor", Named], ...Object.entries(methods)]);
  const member = (prop) => {
    if (!members.has(prop)) {
      const value = binding[prop];
      members.set(prop, typeof value === "function" ? value.bind(binding) : value);
    }
    return members.get(prop);
  };
  return new Proxy(new Named(), {
    get: (_target, prop) => member(prop),
    has: (_target, prop) => member(prop) !== undefined,
  });
}

// cloudflare:sockets has no local implementation here: connect() fails loudly.
const sockets = {
  connect() {
    throw new Error("cloudflare:sockets connect() is not available in the Pyodide lane");
  },
};

async function copyTree(py, from, to) {
  py.FS.mkdirTree(to);
  for (const entry of await readdir(from, { withFileTypes: true })) {
    if (entry.name === "__pycache__" || entry.name.startsWith(".")) continue;
    const source = path.join(from, entry.name);
    const target = `${to}/${entry.name}`;
    if (entry.isDirectory()) await copyTree(py, source, target);
    else py.FS.writeFile(target, new Uint8Array(await readFile(source)));
  }
}

// JS values as JSON: Maps become objects, bytes {"$bytes": base64}, Dates {"$date": ms}.
function toWire(value) {
  if (value === undefined || value === null) return null;
  if (typeof value === "bigint") return Number(value);
  if (typeof value !== "object") return value;
  if (value instanceof Date) return { $date: value.getTime() };
  if (value instanceof ArrayBuffer) return { $bytes: Buffer.from(value).toString("base64") };
  if (ArrayBuffer.isView(value)) {
    return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") };
  }
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toWire(v)]));
  if (Array.isArray(value)) return value.map(toWire);
  if (typeof value.toJs === "function") return toWire(value.toJs({ dict_converter: Object.fromEntries }));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toWire(v)]));
}

const OPS = {
  fetch: (a) => lane.fetch(a),
  scheduled: (a) => lane.scheduled(a),
  rpc: (a) => lane.rpc(a),
  ws_send: (a) => lane.wsSend(a),
  ws_receive: (a) => lane.wsReceive(a),
  ws_close: (a) => lane.wsClose(a),
  ws_error: (a) => lane.wsError(a),
  do_fetch: (a) => lane.doFetch(a),
  do_call: (a) => lane.doCall(a),
  do_alarm: (a) => lane.doAlarm(a),
  do_state: (a) => lane.doState(a),
  do_evict: (a) => lane.doEvict(a),
  r2_put: (a) => lane.r2Put(a),
  r2_put_many: (a) => lane.r2PutMany(a),
  r2_get: (a) => lane.r2Get(a),
  r2_list: (a) => lane.r2List(a),
  r2_delete: (a) => lane.r2Delete(a),
  kv_get: (a) => lane.kvGet(a),
  kv_put: (a) => lane.kvPut(a),
  kv_list: (a) => lane.kvList(a),
  kv_delete: (a) => lane.kvDelete(a),
  queue_send: (a) => lane.queueSend(a),
  queue_drain: (a) => lane.queueDrain(a),
  memory: async () => lane.memoryBytes(),
  logs: async () => logs.splice(0),
  reset: () => lane.reset(),
  run_python: (a) => lane.runPython(a),
  ping: async () => "pong",
  serve: (a) => lane.serve(a),
  stop: () => lane.stop(),
};

const WORKER_OPS = new Set(["start", "fetch", "scheduled", "rpc", "do_fetch", "do_call", "run_python"]);

function reply(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

async function handle(line) {
  let command;
  try {
    command = JSON.parse(line);
  } catch {
    reply({ id: null, ok: false, kind: "lane", error: `not JSON: ${line.slice(0, 80)}` });
    return;
  }
  const { id, op, ...args } = command;
  try {
    let result;
    if (op === "start") {
      lane = new Lane(args.config);
      result = await lane.start();
    } else if (!lane) {
      throw new Error("the first command must be start");
    } else if (!(op in OPS)) {
      throw new Error(`unknown op ${op}`);
    } else {
      result = await OPS[op](args);
    }
    reply({ id, ok: true, result: result ?? null, memory: lane?.memoryBytes() ?? null });
    if (op === "stop") process.exit(0);
  } catch (error) {
    // Whatever goes wrong while the Worker's code runs is the Worker's; the rest is ours.
    const kind = WORKER_OPS.has(op) || error instanceof WorkerError ? "worker" : "lane";
    reply({
      id,
      ok: false,
      kind,
      error: String(error?.message ?? error),
      stack: error?.stack ?? null,
      memory: lane?.memoryBytes() ?? null,
    });
  }
}

const input = readline.createInterface({ input: process.stdin });
input.on("line", (line) => {
  if (line.trim()) handle(line);
});
input.on("close", () => shutdown());
