"""``GET /swarm/<id>/join?invite=<code>``: a browser becomes one of the swarm's devices.

Plain JavaScript, no build step. The page

* joins with the invite from its link (or a code typed into its form), registers with a name
  the user can edit and capabilities from ``navigator`` (``hardwareConcurrency``,
  ``deviceMemory``, ``gpu``), runs a benchmark and then its chunks in Web Workers
  (``/swarm/<id>/worker.js``, one per core but one, at most its quota);
* sends a heartbeat every ``heartbeatSeconds`` (10 s) with its load, timed by a Web Worker so
  that a hidden tab keeps its heartbeat (browsers slow a hidden page's own timers);
* keeps its identity (device id, resume key, invite, name) in ``localStorage`` and, when the
  socket drops, reconnects with exponential backoff and full jitter (a random wait up to 0.5 s,
  doubling to 30 s; :mod:`.reconnect`, shared with the dashboard) with its resume key,
  falling back to the invite if the key is refused and back again;
* shows its own state: connected or reconnecting, chunks done, the current job, throughput.

Each tab claims an identity slot with the Web Locks API, so two tabs are two devices instead
of two sessions replacing each other forever (where the API is missing, on plain-HTTP LAN
addresses, tabs share slot 0 and the newer one wins). A browser cannot read the status of a
refused WebSocket handshake, so a join that never opens is retried with the other credential;
a first join whose invite never opens a socket shows the form again.
"""

JOIN = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Join swarm {{ swarm_id }}</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 1.5rem auto; max-width: 40rem;
         padding: 0 1rem; color: #1d2330; background: #f6f7f9; }
  h1 { font-size: 1.3rem; }
  .panel { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: 1rem;
           margin-bottom: 1rem; }
  .grid { display: grid; grid-template-columns: repeat(3, 1fr); gap: .75rem; }
  .grid b { display: block; font-size: 1.4rem; }
  #state { padding: .2rem .6rem; border-radius: 4px; font-weight: 600; }
  #state.connected { background: #d7f5dd; } #state.waiting { background: #fde2e1; }
  input { font: inherit; padding: .35rem .5rem; }
  #code { text-transform: uppercase; letter-spacing: .15em; width: 10rem; }
  #log { font: 12px/1.5 ui-monospace, monospace; color: #4b5563; max-height: 10rem;
         overflow-y: auto; }
  [hidden] { display: none; }
</style>
</head>
<body>
<h1>Join swarm <code>{{ swarm_id }}</code> <span id="state" class="waiting">starting</span></h1>
<form id="join-form" class="panel" hidden>
  <label for="code">Invite code</label>
  <input id="code" autocomplete="off" spellcheck="false" maxlength="12" placeholder="K7QM-4XPA">
  <button id="join" type="submit">Join</button>
  <p id="form-note"></p>
</form>
<div id="device" class="panel" hidden>
  <p>This browser is device <code id="device-id"></code>.
     <label for="name">Name</label> <input id="name" maxlength="100">
     <button id="save-name" type="button">Save</button></p>
  <div class="grid">
    <div>chunks done<b id="done">0</b></div>
    <div>chunks/s (1 min)<b id="throughput">0.00</b></div>
    <div>benchmark ops/s<b id="benchmark">-</b></div>
    <div>current job<b id="current">-</b></div>
    <div>workers<b id="workers">0</b></div>
    <div>swarm<b id="run-state">-</b></div>
  </div>
</div>
<div class="panel"><div id="log"></div></div>
<script>
(function () {
  "use strict";
  var swarmId = {{ swarm_id | tojson }};
  var storeKey = "flaresuite-swarm:" + swarmId;
  var $ = function (id) { return document.getElementById(id); };
  var cores = Math.min(128, Math.max(1, navigator.hardwareConcurrency || 1));
  var memory = Math.min(1024, Math.max(0.25, navigator.deviceMemory || 4));
  var slot = 0, identity = null, ws = null, attempt = 0, timer = null, heartbeat = null;
  var everOpened = false, lastTried = null, refusedInvites = 0;
  var workers = [], queue = [], held = {}, done = 0, finishedAt = [];
  var quota = 1, throttle = 100, runState = "RUNNING", enabled = true, benchmarked = false;

  function log(text) {
    var line = document.createElement("div");
    line.textContent = new Date().toISOString().slice(11, 19) + " " + text;
    $("log").prepend(line);
    while ($("log").childNodes.length > 50) $("log").lastChild.remove();
  }

  function setState(kind, text) { $("state").className = kind; $("state").textContent = text; }

  function normalize(code) {
    var compact = code.trim().replace(/[\s-]/g, "");
    return compact.length <= 8 ? compact.toUpperCase() : code.trim();
  }

  function randomId() {
    var bytes = crypto.getRandomValues(new Uint8Array(6));
    return "web-" + Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); })
      .join("");
  }

  function save() { localStorage.setItem(storeKey + ":" + slot, JSON.stringify(identity)); }

  // One identity per tab: the first slot whose lock is free is this tab's for its lifetime.
  function claimSlot(then) {
    if (!navigator.locks) { then(); return; }
    (function tryNext(n) {
      navigator.locks.request(storeKey + ":" + n, { ifAvailable: true }, function (lock) {
        if (!lock && n < 31) { tryNext(n + 1); return; }
        slot = n;
        then();
        return new Promise(function () {});  // held until the page goes away
      });
    })(0);
  }

  function start() {
    try { identity = JSON.parse(localStorage.getItem(storeKey + ":" + slot)); } catch (e) {}
    if (!identity || typeof identity.deviceId !== "string") {
      var small = /Mobi|Android/i.test(navigator.userAgent);
      identity = { deviceId: randomId(), resumeKey: null, invite: null,
                   name: (small ? "Phone " : "Browser ") + Math.random().toString(36).slice(2, 6) };
    }
    var linked = new URLSearchParams(location.search).get("invite");
    if (linked) identity.invite = normalize(linked);
    save();
    $("device-id").textContent = identity.deviceId;
    $("name").value = identity.name;
    if (identity.resumeKey || identity.invite) connect(); else showForm("");
  }

  function showForm(note) {
    $("join-form").hidden = false;
    $("form-note").textContent = note;
    setState("waiting", "not joined");
  }

  $("join-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var code = normalize($("code").value);
    if (!code) return;
    identity.invite = code;
    save();
    $("join-form").hidden = true;
    refusedInvites = 0;
    connect();
  });

  $("save-name").addEventListener("click", function () {
    identity.name = $("name").value.trim().slice(0, 100) || identity.deviceId;
    save();
    if (ws && ws.readyState === WebSocket.OPEN) register();
  });

  function send(type, payload) {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ type: type, payload: payload }));
    }
  }

  function connect() {
    timer = null;
    // A key the swarm refused (the device was removed) is worth one try with the invite,
    // and an invite refused for a device that is still online is worth one with the key.
    var useKey = identity.resumeKey && !(lastTried === "key" && identity.invite);
    if (!useKey && !identity.invite) useKey = !!identity.resumeKey;
    lastTried = useKey ? "key" : "invite";
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host +
      "/swarm/" + encodeURIComponent(swarmId) + "/ws?deviceId=" +
      encodeURIComponent(identity.deviceId) +
      (useKey ? "&resumeKey=" + encodeURIComponent(identity.resumeKey)
              : "&token=" + encodeURIComponent(identity.invite));
    var socket = new WebSocket(url), opened = false;
    ws = socket;
    socket.onopen = function () { opened = true; everOpened = true; lastTried = null; };
    socket.onmessage = function (event) { receive(JSON.parse(event.data)); };
    socket.onclose = function (event) {
      if (ws !== socket) return;
      stopWork();
      if (event.code === 4000) {
        setState("waiting", "replaced");
        log("this device connected again elsewhere; reload to take it back");
        return;
      }
      if (!opened && !useKey && !everOpened && !identity.resumeKey && ++refusedInvites >= 2) {
        identity.invite = null;
        save();
        showForm("That invite was not accepted: check the code, or ask for a new one.");
        return;
      }
      scheduleReconnect();
    };
  }

{% include "reconnect.js" %}

  function scheduleReconnect() {
    if (timer !== null) return;
    var delay = reconnectDelay(attempt);
    attempt += 1;
    setState("waiting", "reconnecting in " + (delay / 1000).toFixed(1) + " s");
    timer = setTimeout(connect, delay);
  }

  function register() {
    send("DEVICE_REGISTER", { name: identity.name, cpuCores: cores, memoryGB: memory,
                              gpuAvailable: !!navigator.gpu });
  }

  function receive(message) {
    var p = message.payload;
    if (message.type === "WELCOME") {
      attempt = 0;
      if (p.resumeKey) { identity.resumeKey = p.resumeKey; save(); }
      setState("connected", "connected");
      $("device").hidden = false;
      log(p.resumed ? "reconnected" : "joined the swarm");
      heartbeat = new Worker("worker.js");
      heartbeat.onmessage = function () {
        send("HEARTBEAT", { load: workers.length ? busy() / workers.length : 0 });
      };
      heartbeat.postMessage({ type: "clock", seconds: p.heartbeatSeconds });
      register();
    } else if (message.type === "REGISTERED") {
      quota = p.quota;
      ensureWorkers();
      if (benchmarked) {
        request();
      } else {
        benchmarked = true;
        workers[0].worker.postMessage({ type: "benchmark" });
      }
    } else if (message.type === "CONTROL") {
      throttle = p.throttle; runState = p.runState; enabled = p.enabled;
      $("run-state").textContent = enabled ? runState : "DISABLED";
      request();
    } else if (message.type === "STATUS") {
      runState = p.runState; throttle = p.throttle;
      $("run-state").textContent = enabled ? runState : "DISABLED";
    } else if (message.type === "JOB_ASSIGN") {
      p.chunks.forEach(function (chunk) { held[chunk.chunkId] = chunk; queue.push(chunk); });
      pump();
    } else if (message.type === "JOB_CANCEL") {
      p.chunkIds.forEach(function (id) { delete held[id]; });
      queue = queue.filter(function (chunk) { return held[chunk.chunkId]; });
      workers.forEach(function (slot, index) {
        if (slot.chunk && !held[slot.chunk.chunkId]) replaceWorker(index);
      });
      log("the coordinator took " + p.chunkIds.length + " chunk(s) back: " + p.reason);
      pump();
    } else if (message.type === "ERROR") {
      log("error " + p.code + ": " + p.message);
    }
  }

  function newWorker(index) {
    var slot = { worker: new Worker("worker.js"), chunk: null, restUntil: 0 };
    slot.worker.onmessage = function (event) { finished(index, event.data); };
    return slot;
  }

  function ensureWorkers() {
    var size = Math.max(1, Math.min(quota, cores - 1));
    while (workers.length < size) workers.push(newWorker(workers.length));
    $("workers").textContent = workers.length;
  }

  function replaceWorker(index) {
    workers[index].worker.terminate();
    workers[index] = newWorker(index);
  }

  function stopWork() {
    if (heartbeat) heartbeat.terminate();
    heartbeat = null;
    workers.forEach(function (slot) { slot.worker.terminate(); });
    workers = []; queue = []; held = {};
    $("workers").textContent = 0;
  }

  function busy() { return workers.filter(function (slot) { return slot.chunk; }).length; }

  function request() {
    var free = workers.length - busy() - queue.length;
    if (enabled && runState === "RUNNING" && free > 0) send("JOB_REQUEST", { slots: free });
  }

  function pump() {
    var now = performance.now();
    workers.forEach(function (slot) {
      if (slot.chunk || !queue.length) return;
      if (slot.restUntil > now) { setTimeout(pump, slot.restUntil - now); return; }
      slot.chunk = queue.shift();
      $("current").textContent = slot.chunk.kind + " " + slot.chunk.jobId.slice(0, 8);
      slot.worker.postMessage({ type: "run", chunk: slot.chunk });
    });
  }

  function finished(index, message) {
    if (message.type === "benchmark") {
      $("benchmark").textContent = Math.round(message.opsPerSecond).toLocaleString("en");
      send("BENCHMARK_RESULT", { opsPerSecond: message.opsPerSecond,
                                 durationMs: message.durationMs });
      request();
      return;
    }
    var slot = workers[index];
    if (!slot || !slot.chunk || slot.chunk.chunkId !== message.chunkId) return;
    slot.chunk = null;
    delete held[message.chunkId];
    // The throttle is a duty cycle: rest in proportion to the work just done.
    slot.restUntil = performance.now() + message.durationMs * (100 - throttle) / throttle;
    if (message.type === "done") {
      send("JOB_COMPLETE", { chunkId: message.chunkId, durationMs: message.durationMs,
                             result: message.result });
      done += 1;
      finishedAt.push(Date.now());
    } else {
      send("JOB_COMPLETE", { chunkId: message.chunkId, durationMs: message.durationMs,
                             error: message.error });
    }
    showProgress();
    request();
    pump();
    if (!busy()) $("current").textContent = "-";
  }

  function showProgress() {
    var horizon = Date.now() - 60000;
    while (finishedAt.length && finishedAt[0] < horizon) finishedAt.shift();
    $("done").textContent = done;
    $("throughput").textContent = (finishedAt.length / 60).toFixed(2);
  }
  setInterval(showProgress, 2000);

  claimSlot(start);
})();
</script>
</body>
</html>
"""
