import { wireDecode, wireEncode } from "./queues.mjs";

// The Miniflare Worker that hosts the lane's R2, KV and queue bindings; the R2 call the lane
// routes through it instead of through Miniflare's binding proxy (list()); and the queue
// producer and consumer ends (queues.mjs says why they live here).
//
// Miniflare hands Node a proxy for every workerd object that is not plain data, and each
// property read on it is a synchronous HTTP round trip into workerd. A listed R2 object is
// such an object, and Pyodide probes about twenty properties of any JS object it converts
// (then/next/get/has/length/size/...) before the Worker reads key, size and etag: 22 round
// trips per object, about 20 ms, measured. So list() runs inside workerd here, on the same
// binding, and its page crosses in one request as data; the lane rebuilds every object as a
// HeadResult with workerd's own properties and prototype, which Pyodide probes for free.
// Only list() is rerouted: get() and put() return one object per call, so their cost does
// not grow with the data (docs/runtime.md says why they stay on the proxy).

// workerd: `list()` resolves to { objects: HeadResult[], truncated, cursor?, delimitedPrefixes }.
export const BINDINGS_HOST_SCRIPT = `
const CHECKSUMS = ["md5", "sha1", "sha256", "sha384", "sha512"];
const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
function plain(o) {
  const checksums = {};
  for (const name of CHECKSUMS) if (o.checksums[name] !== undefined) checksums[name] = hex(o.checksums[name]);
  const httpMetadata = o.httpMetadata && { ...o.httpMetadata };
  if (httpMetadata?.cacheExpiry) httpMetadata.cacheExpiry = httpMetadata.cacheExpiry.getTime();
  return {
    key: o.key, version: o.version, size: o.size, etag: o.etag, httpEtag: o.httpEtag,
    checksums, uploaded: o.uploaded.getTime(), httpMetadata, customMetadata: o.customMetadata,
    range: o.range, storageClass: o.storageClass, ssecKeyMd5: o.ssecKeyMd5,
  };
}
${wireEncode.toString()}
${wireDecode.toString()}
const OPS = {
  // R2Bucket.list(options), the page as data.
  "/r2/list": async (env, { binding, options }) => {
    const page = await env[binding].list(options);
    return { ...page, objects: page.objects.map(plain) };
  },
  // WorkerQueue.send(body, options) or sendBatch(messages, options) on the real producer.
  "/queue/send": async (env, { binding, method, messages, options }) => {
    const decoded = messages.map(({ body, ...rest }) => ({ body: wireDecode(body), ...rest }));
    if (method === "send") {
      const [{ body, ...sendOptions }] = decoded;
      return (await env[binding].send(body, sendOptions)) ?? null;
    }
    return (await env[binding].sendBatch(decoded, options)) ?? null;
  },
};
export default {
  async fetch(request, env) {
    const op = OPS[new URL(request.url).pathname];
    if (!op) return new Response("no such bindings host route", { status: 404 });
    try {
      return Response.json({ result: await op(env, await request.json()) });
    } catch (error) {
      return Response.json({ error: { name: error.name, message: error.message } }, { status: 500 });
    }
  },
  // A batch from Miniflare's broker: the lane runs the Worker's handler and returns the calls
  // it made, replayed here in order on the broker's messages; a handler that raised fails the
  // batch here too, so the broker retries it as workerd's outcome "exception".
  async queue(batch, env) {
    const messages = batch.messages.map((m) => ({
      id: m.id, timestamp: m.timestamp.getTime(), body: wireEncode(m.body), attempts: m.attempts,
    }));
    const response = await env.LANE.fetch("http://lane/queue", {
      method: "POST",
      body: JSON.stringify({ queue: batch.queue, messages, metadata: batch.metadata ?? null }),
    });
    const { calls, error } = await response.json();
    const byId = new Map(batch.messages.map((m) => [m.id, m]));
    for (const [op, ...args] of calls) {
      if (op === "ack") byId.get(args[0])?.ack();
      else if (op === "retry") byId.get(args[0])?.retry(args[1]);
      else if (op === "ackAll") batch.ackAll();
      else if (op === "retryAll") batch.retryAll(args[0]);
    }
    if (error !== null) throw new Error(error);
  },
};
`;

const ERRORS = { TypeError, RangeError };

// workerd's R2Checksums: ArrayBuffers, and toJSON() as hex.
class Checksums {
  constructor(hexes) {
    for (const [name, value] of Object.entries(hexes)) {
      this[name] = new Uint8Array(Buffer.from(value, "hex")).buffer;
    }
  }

  toJSON() {
    return Object.fromEntries(Object.entries(this).map(([k, v]) => [k, Buffer.from(v).toString("hex")]));
  }
}

// workerd's class for listed objects: own data properties, writeHttpMetadata on the prototype.
class HeadResult {
  constructor(o) {
    const httpMetadata = o.httpMetadata && { ...o.httpMetadata };
    if (httpMetadata?.cacheExpiry !== undefined) httpMetadata.cacheExpiry = new Date(httpMetadata.cacheExpiry);
    Object.assign(this, {
      ssecKeyMd5: o.ssecKeyMd5,
      storageClass: o.storageClass,
      range: o.range,
      customMetadata: o.customMetadata,
      httpMetadata,
      uploaded: new Date(o.uploaded),
      checksums: new Checksums(o.checksums),
      httpEtag: o.httpEtag,
      etag: o.etag,
      size: o.size,
      version: o.version,
      key: o.key,
    });
  }

  writeHttpMetadata(headers) {
    const m = this.httpMetadata ?? {};
    const fields = [
      ["content-type", m.contentType],
      ["content-language", m.contentLanguage],
      ["content-disposition", m.contentDisposition],
      ["content-encoding", m.contentEncoding],
      ["cache-control", m.cacheControl],
      ["expires", m.cacheExpiry?.toUTCString()],
    ];
    for (const [name, value] of fields) if (value !== undefined) headers.set(name, value);
  }
}

// One bindings host operation (a route of OPS above); its error is rethrown as workerd's.
export async function callBindingsHost(mf, route, args) {
  const response = await mf.dispatchFetch(`http://bindings-host${route}`, {
    method: "POST",
    body: JSON.stringify(args),
  });
  const { result, error } = await response.json();
  if (error) throw Object.assign(new (ERRORS[error.name] ?? Error)(error.message), { name: error.name });
  return result;
}

// R2Bucket.list(options) for `binding`, run by the bindings host in one request.
export async function listR2(mf, binding, options) {
  const page = await callBindingsHost(mf, "/r2/list", { binding, options: options ?? {} });
  return { ...page, objects: page.objects.map((o) => new HeadResult(o)) };
}
