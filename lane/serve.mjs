// `flaresuite dev`: the lane's Worker served over real HTTP, the way `wrangler dev` serves one.
//
// Every request becomes a fetch event on a fresh Default(ctx, env); `GET /__scheduled?cron=`
// runs the scheduled handler (as `wrangler dev --test-scheduled` does); a WebSocket upgrade
// the Worker answers with 101 is completed by `ws` and bridged, frame by frame, to the client
// end the Worker returned, so Durable Objects see real browsers and devices. A Python
// exception is printed with its traceback and answered with 500; the server keeps serving.
// The terminal never shows a query string: a swarm's `?token=<invite>` would be in it.
import http from "node:http";
import { performance } from "node:perf_hooks";
import { WebSocketServer } from "ws";
import { WebSocket as LaneWebSocket } from "./runtime.mjs";

// Headers that describe one hop of the connection, not the request (RFC 9110, section 7.6.1).
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "te", "trailer", "proxy-connection"]);
const MIB = 1024 * 1024;
const MEMORY_LIMIT = 128 * MIB; // Cloudflare's per-isolate limit, Pyodide's heap included
const REDACTED = "[redacted]"; // flaresuite.redact.REDACTED

// What a log line shows of a request target: its path, with `?[redacted]` for a query, as
// flaresuite.redact.redact_url shows a URL. A query may carry a secret (a swarm dashboard's
// `?token=<invite>`, a device's `?token=`), and so may a userinfo in an absolute-form target;
// a target that does not parse is not shown at all.
export function shownTarget(target) {
  let url;
  try {
    url = new URL(target, "http://flaresuite-dev.invalid");
  } catch {
    return REDACTED;
  }
  return url.search ? `${url.pathname}?${REDACTED}` : url.pathname;
}

export class DevServer {
  #lane;
  #log;
  #server = null;
  #sockets = new Set();
  #wss = new WebSocketServer({ noServer: true });
  #reportedMemory = 0;

  constructor(lane, log) {
    this.#lane = lane;
    this.#log = log;
    lane.onEvent = () => this.#reportMemory();
  }

  async listen({ host, port }) {
    this.#server = http.createServer((req, res) => {
      this.#handle(req, res).catch((error) => {
        this.#log(`[dev] ${req.method} ${shownTarget(req.url)}: ${error?.stack ?? error}`);
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end("flaresuite dev failed to serve this request; see its terminal\n");
      });
    });
    this.#server.on("upgrade", (req, socket, head) => {
      this.#upgrade(req, socket, head).catch((error) => {
        this.#log(`[dev] ${req.method} ${shownTarget(req.url)}: ${error?.stack ?? error}`);
        socket.destroy();
      });
    });
    await new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, host, () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
    const address = this.#server.address();
    const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
    this.origin = `http://${shown}:${address.port}`;
    this.#reportedMemory = this.#lane.memoryBytes() ?? 0;
    return { url: this.origin, memory: this.#reportedMemory };
  }

  async close() {
    for (const ws of this.#sockets) ws.close(1001, "flaresuite dev is stopping");
    this.#wss.close();
    if (this.#server) {
      this.#server.closeAllConnections();
      await new Promise((resolve) => this.#server.close(resolve));
    }
  }

  #request(req, body) {
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i];
      if (!HOP_BY_HOP.has(name.toLowerCase())) headers.append(name, req.rawHeaders[i + 1]);
    }
    const hasBody = !["GET", "HEAD"].includes(req.method);
    return new Request(new URL(req.url, this.origin), {
      method: req.method,
      headers,
      body: hasBody ? body : undefined,
    });
  }

  async #body(req) {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  async #handle(req, res) {
    const started = performance.now();
    const url = new URL(req.url, this.origin);
    const body = await this.#body(req);
    let status;
    let note = "";
    if (url.pathname === "/__scheduled") {
      // The cron is the dev server's own parameter, never a secret: it is named.
      const cron = url.searchParams.get("cron") ?? "";
      note = `cron ${JSON.stringify(cron.slice(0, 64))}, `;
      status = await this.#scheduled(cron, res);
    } else {
      let response;
      try {
        response = await this.#lane.fetchRequest(this.#request(req, body));
      } catch (error) {
        status = this.#workerFailed(error, res);
      }
      if (response) status = await this.#write(response, res);
    }
    const elapsed = Math.round(performance.now() - started);
    this.#log(`[dev] ${req.method} ${shownTarget(req.url)} ${status} (${note}${elapsed} ms)`);
  }

  async #scheduled(cron, res) {
    try {
      await this.#lane.scheduled({ cron });
    } catch (error) {
      return this.#workerFailed(error, res);
    }
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("Ran scheduled event");
    return 200;
  }

  // Cloudflare answers an uncaught exception with its own error page; the traceback is the
  // developer's, in the terminal.
  #workerFailed(error, res) {
    this.#log(describe(error));
    res.writeHead(500, { "content-type": "text/plain" });
    res.end("The Worker raised an exception; its traceback is in the flaresuite dev terminal.\n");
    return 500;
  }

  async #write(response, res) {
    if (response.status === 101) throw new Error("the Worker answered 101 to a request that was not an upgrade");
    const headers = {};
    for (const [name, value] of response.headers) if (name !== "set-cookie") headers[name] = value;
    const cookies = response.headers.getSetCookie();
    if (cookies.length > 0) headers["set-cookie"] = cookies;
    const body = Buffer.from(await response.arrayBuffer());
    res.writeHead(response.status, headers);
    res.end(body);
    return response.status;
  }

  // The Worker decides: a 101 with a webSocket is completed by `ws` and bridged; any other
  // answer is written back on the raw socket as an ordinary response.
  async #upgrade(req, socket, head) {
    const started = performance.now();
    const shown = shownTarget(req.url);
    let response;
    try {
      response = await this.#lane.fetchRequest(this.#request(req, Buffer.alloc(0)));
    } catch (error) {
      this.#log(describe(error));
      socket.end("HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
      this.#log(`[dev] ${req.method} ${shown} 500 (${Math.round(performance.now() - started)} ms)`);
      return;
    }
    const elapsed = () => `${Math.round(performance.now() - started)} ms`;
    if (response.status !== 101 || !(response.webSocket instanceof LaneWebSocket)) {
      const body = Buffer.from(await response.arrayBuffer());
      const lines = [`HTTP/1.1 ${response.status} ${http.STATUS_CODES[response.status] ?? ""}`];
      for (const [name, value] of response.headers) lines.push(`${name}: ${value}`);
      lines.push(`content-length: ${body.length}`, "connection: close", "", "");
      socket.end(Buffer.concat([Buffer.from(lines.join("\r\n")), body]));
      this.#log(`[dev] ${req.method} ${shown} ${response.status} (${elapsed()})`);
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      this.#log(`[dev] ${req.method} ${shown} 101 (${elapsed()})`);
      this.#bridge(ws, response.webSocket, shown);
    });
  }

  // Frames and closes cross in both directions; the lane end behaves as the client end of a
  // WebSocketPair does on workerd.
  #bridge(ws, laneEnd, path) {
    this.#sockets.add(ws);
    laneEnd.accepted = true;
    laneEnd.onPeerEvent = (kind, payload) => {
      if (kind === "message") ws.send(payload);
      else if (kind === "close") {
        laneEnd.readyState = LaneWebSocket.READY_STATE_CLOSED;
        ws.close(sendableCode(payload.code), payload.reason);
      }
    };
    ws.on("message", (data, isBinary) => {
      if (laneEnd.readyState !== LaneWebSocket.READY_STATE_OPEN) return;
      laneEnd.send(isBinary ? new Uint8Array(data) : data.toString());
    });
    ws.on("close", (code, reason) => {
      this.#sockets.delete(ws);
      if (laneEnd.readyState !== LaneWebSocket.READY_STATE_OPEN) return;
      laneEnd.readyState = LaneWebSocket.READY_STATE_CLOSED;
      // 1005/1006: no close frame came, so the server sees an unclean close.
      const clean = code !== 1006;
      queueMicrotask(() => laneEnd.peer?.deliver("close", { code, reason: reason.toString(), wasClean: clean }));
      this.#log(`[dev] WebSocket ${path} closed by the client (${code})`);
    });
    ws.on("error", (error) => this.#log(`[dev] WebSocket ${path}: ${error.message}`));
  }

  #reportMemory() {
    const bytes = this.#lane.memoryBytes() ?? 0;
    if (bytes <= this.#reportedMemory) return;
    this.#reportedMemory = bytes;
    const over = bytes > MEMORY_LIMIT ? " (over Cloudflare's 128 MiB limit: this Worker would fail there)" : "";
    this.#log(`[dev] Pyodide memory: ${(bytes / MIB).toFixed(1)} MiB${over}`);
  }
}

// A Python exception's message is its traceback; anything else is the lane's, with its stack.
function describe(error) {
  if (error?.constructor?.name === "PythonError") return error.message.trimEnd();
  return error?.stack ?? String(error);
}

// Close codes a server may put in a close frame (RFC 6455, section 7.4): 1005 and 1006 only
// report that none came, so they are sent as 1000.
function sendableCode(code) {
  if (code === 1000 || (code >= 1001 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006)) {
    return code;
  }
  return code >= 3000 && code <= 4999 ? code : 1000;
}
