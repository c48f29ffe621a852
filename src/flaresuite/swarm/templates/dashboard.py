"""``GET /swarm/<id>``: devices, status and load, queue, jobs, throughput, the system log, and
for the owner the controls and the invite to share.

Plain JavaScript, no build step. The page watches the swarm over its own WebSocket as an
observer, with the invite in its ``?token=`` or one the owner creates here; when the socket
drops it reconnects with exponential backoff and full jitter (a random wait up to 0.5 s,
doubling to 30 s; :mod:`.reconnect`, shared with the join page), so a deploy that drops every
dashboard does not bring them all back in the same instant (research section 3.4).
Dashboards need a multi-use invite: each reconnect presents it again.

The owner unlocks the controls with the owner token, which the page keeps in
``sessionStorage`` (this tab only) and sends as a bearer token to the owner routes, never in a
URL: start, pause and stop, the throttle, which commands members may send, enabling and
disabling devices, and a new multi-use code with its join link and QR code (an SVG drawn by
the server). The page sends no ``Referer`` and loads nothing from elsewhere.
"""

DASHBOARD = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Swarm {{ swarm_id }}</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2330;
         background: #f6f7f9; }
  h1 { font-size: 1.3rem; margin: 0 0 1rem; }
  .cards { display: flex; gap: .75rem; flex-wrap: wrap; margin-bottom: 1rem; }
  .card, .panel { background: #fff; border: 1px solid #dde1e7; border-radius: 6px;
                  padding: .6rem .9rem; }
  .card { min-width: 8rem; }
  .card b { display: block; font-size: 1.4rem; }
  .panel { margin-bottom: 1rem; }
  #connection { padding: .2rem .6rem; border-radius: 4px; font-weight: 600; }
  #connection.open { background: #d7f5dd; } #connection.closed { background: #fde2e1; }
  table { border-collapse: collapse; background: #fff; width: 100%; margin-bottom: 1rem; }
  th, td { border-bottom: 1px solid #e6e9ee; padding: .3rem .5rem; text-align: left; }
  tr.OFFLINE, tr.disabled { color: #98a1ae; }
  .bar { background: #e6e9ee; border-radius: 3px; height: .6rem; width: 8rem; }
  .bar span { display: block; background: #3b82f6; height: 100%; border-radius: 3px; }
  #log { background: #111827; color: #d1d5db; font: 12px/1.5 ui-monospace, monospace;
         padding: .6rem; height: 14rem; overflow-y: auto; }
  #log .WARN { color: #fbbf24; } #log .ERROR { color: #f87171; }
  .columns { display: grid; grid-template-columns: 2fr 1fr; gap: 1rem; }
  #invite-code { font: 600 1.6rem ui-monospace, monospace; letter-spacing: .2em; }
  #qr { width: 12rem; height: 12rem; image-rendering: pixelated; }
  .owner-only { display: none; } body.owner .owner-only { display: revert; }
  body.owner #unlock-form { display: none; }
</style>
</head>
<body>
<h1>Swarm <code>{{ swarm_id }}</code> <span id="connection" class="closed">connecting</span></h1>
<div class="cards">
  <div class="card">swarm<b id="run-state">-</b></div>
  <div class="card">devices online<b id="online">0</b></div>
  <div class="card">devices known<b id="total">0</b></div>
  <div class="card">queued<b id="queued">0</b></div>
  <div class="card">running<b id="assigned">0</b></div>
  <div class="card">done<b id="done">0</b></div>
  <div class="card">failed<b id="failed">0</b></div>
  <div class="card">chunks/s (1 min)<b id="throughput">0</b></div>
</div>
<div class="panel">
  <form id="unlock-form">
    <label for="owner-token">Owner token</label>
    <input id="owner-token" type="password" autocomplete="off">
    <button id="unlock" type="submit">Unlock controls</button>
  </form>
  <div class="owner-only">
    <button id="start" type="button">Start</button>
    <button id="pause" type="button">Pause</button>
    <button id="stop" type="button">Stop</button>
    <label for="throttle">Throttle</label>
    <input id="throttle" type="range" min="10" max="100" step="5" value="100">
    <span id="throttle-value">100 %</span>
    &nbsp; Members may send:
    <label><input type="checkbox" class="member-command" value="run"> run state</label>
    <label><input type="checkbox" class="member-command" value="throttle"> throttle</label>
    <label><input type="checkbox" class="member-command" value="devices"> device switches</label>
    <label><input type="checkbox" class="member-command" value="invite"> invites</label>
    &nbsp; <button id="new-code" type="button">New invite code</button>
    <button id="lock" type="button">Lock</button>
  </div>
  <p id="owner-status"></p>
  <div id="invite" hidden>
    <p>Join at <a id="join-link" href="#"></a> or type the code
       <span id="invite-code"></span> on this swarm's join page (valid 24 h).</p>
    <img id="qr" alt="QR code of the join link">
  </div>
</div>
<div class="columns">
  <div>
    <table id="devices">
      <thead><tr><th>device</th><th>name</th><th>status</th><th>load</th><th>chunks</th>
        <th>done</th><th>weight</th><th class="owner-only">enabled</th></tr></thead>
      <tbody></tbody>
    </table>
    <table id="jobs">
      <thead><tr><th>job</th><th>kind</th><th>progress</th><th>done</th><th>failed</th>
        <th>state</th></tr></thead>
      <tbody></tbody>
    </table>
  </div>
  <div><div id="log"></div></div>
</div>
<script>
(function () {
  "use strict";
  var swarmId = {{ swarm_id | tojson }};
  var base = "/swarm/" + encodeURIComponent(swarmId);
  var ownerKey = "flaresuite-swarm-owner:" + swarmId;
  var inviteKey = "flaresuite-swarm-invite:" + swarmId;
  var token = new URLSearchParams(location.search).get("token") ||
    sessionStorage.getItem(inviteKey);
  var ownerToken = sessionStorage.getItem(ownerKey);
  var $ = function (id) { return document.getElementById(id); };
  var attempt = 0, timer = null, ws = null, qrUrl = null;

  function setConnection(state, text) {
    var el = $("connection");
    el.className = state;
    el.textContent = text;
  }

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function bar(row, fraction) {
    var td = cell(row, ""), outer = document.createElement("div");
    var inner = document.createElement("span");
    outer.className = "bar";
    inner.style.width = Math.round(Math.max(0, Math.min(1, fraction)) * 100) + "%";
    outer.appendChild(inner);
    td.appendChild(outer);
  }

  function renderSnapshot(s) {
    $("run-state").textContent = s.runState;
    $("online").textContent = s.devicesOnline;
    $("total").textContent = s.devicesTotal;
    $("queued").textContent = s.queue.queued;
    $("assigned").textContent = s.queue.assigned;
    $("done").textContent = s.queue.done;
    $("failed").textContent = s.queue.failed;
    $("throughput").textContent = s.throughput.toFixed(2);
    if (document.activeElement !== $("throttle")) {
      $("throttle").value = s.throttle;
      $("throttle-value").textContent = s.throttle + " %";
    }
    document.querySelectorAll(".member-command").forEach(function (box) {
      box.checked = s.inviteeCommands.indexOf(box.value) >= 0;
    });
    var body = $("devices").tBodies[0];
    body.replaceChildren();
    s.devices.forEach(function (d) {
      var row = document.createElement("tr");
      row.className = d.status + (d.enabled ? "" : " disabled");
      row.dataset.deviceId = d.id;
      cell(row, d.id);
      cell(row, d.registered ? d.name : "(unregistered)");
      cell(row, d.enabled ? d.status : d.status + ", disabled");
      bar(row, d.load === null ? d.active / d.quota : d.load);
      cell(row, d.active + " / " + d.quota);
      cell(row, d.completed);
      cell(row, d.weight);
      var toggle = document.createElement("button");
      toggle.type = "button";
      toggle.className = "toggle";
      toggle.textContent = d.enabled ? "disable" : "enable";
      toggle.addEventListener("click", function () {
        owner("/devices/" + encodeURIComponent(d.id), { enabled: !d.enabled });
      });
      cell(row, "").appendChild(toggle);
      row.lastChild.className = "owner-only";
      body.appendChild(row);
    });
    var jobs = $("jobs").tBodies[0];
    jobs.replaceChildren();
    s.jobs.forEach(function (j) {
      var row = document.createElement("tr");
      cell(row, j.id.slice(0, 8));
      cell(row, j.kind);
      bar(row, (j.done + j.failed) / j.total);
      cell(row, j.done + " / " + j.total);
      cell(row, j.failed);
      cell(row, j.finished ? "finished" : "running");
      jobs.appendChild(row);
    });
    appendLog(s.log);
  }

  function appendLog(lines) {
    var log = $("log");
    lines.forEach(function (line) {
      var div = document.createElement("div");
      div.className = line.level;
      div.textContent = new Date(line.at * 1000).toISOString().slice(11, 19) + " " +
        line.level + " " + line.message;
      log.appendChild(div);
    });
    while (log.childNodes.length > 200) log.removeChild(log.firstChild);
    log.scrollTop = log.scrollHeight;
  }

  function connect() {
    timer = null;
    if (!token) {
      setConnection("closed", "open this page with ?token=<multi-use invite>, " +
        "or unlock the controls and create a code");
      return;
    }
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + base + "/ws?role=observer&token=" +
      encodeURIComponent(token));
    ws = socket;
    socket.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.type === "WELCOME") { attempt = 0; setConnection("open", "live"); }
      if (message.type === "SNAPSHOT") renderSnapshot(message.payload);
    };
    socket.onclose = function () { if (ws === socket) scheduleReconnect(); };
  }

{% include "reconnect.js" %}

  function scheduleReconnect() {
    if (timer !== null) return;
    var delay = reconnectDelay(attempt);
    attempt += 1;
    setConnection("closed", "reconnecting in " + (delay / 1000).toFixed(1) + " s");
    timer = setTimeout(connect, delay);
  }

  // -- the owner's controls ------------------------------------------------------------------

  function owner(path, params, method) {
    var query = new URLSearchParams(params || {}).toString();
    return fetch(base + path + (query ? "?" + query : ""), {
      method: method || "POST",
      headers: { Authorization: "Bearer " + ownerToken },
      cache: "no-store"
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(response.status + ": " + body.error);
        $("owner-status").textContent = "";
        return body;
      });
    }).catch(function (error) {
      $("owner-status").textContent = String(error.message || error);
      throw error;
    });
  }

  function unlock(candidate) {
    ownerToken = candidate;
    return owner("/state", null, "GET").then(function (state) {
      sessionStorage.setItem(ownerKey, candidate);
      document.body.classList.add("owner");
      renderSnapshot(state);
    }, function () {
      ownerToken = null;
      sessionStorage.removeItem(ownerKey);
    });
  }

  $("unlock-form").addEventListener("submit", function (event) {
    event.preventDefault();
    unlock($("owner-token").value.trim());
    $("owner-token").value = "";
  });

  $("lock").addEventListener("click", function () {
    ownerToken = null;
    sessionStorage.removeItem(ownerKey);
    document.body.classList.remove("owner");
  });

  [["start", "RUNNING"], ["pause", "PAUSED"], ["stop", "STOPPED"]].forEach(function (pair) {
    $(pair[0]).addEventListener("click", function () {
      owner("/control", { runState: pair[1] }).then(function (s) {
        $("run-state").textContent = s.runState;
      });
    });
  });

  $("throttle").addEventListener("input", function () {
    $("throttle-value").textContent = $("throttle").value + " %";
  });
  $("throttle").addEventListener("change", function () {
    owner("/control", { throttle: $("throttle").value });
  });

  document.querySelectorAll(".member-command").forEach(function (box) {
    box.addEventListener("change", function () {
      var allowed = Array.from(document.querySelectorAll(".member-command:checked"))
        .map(function (checked) { return checked.value; });
      owner("/control", { inviteeCommands: allowed.join(",") || "none" });
    });
  });

  $("new-code").addEventListener("click", function () {
    owner("/tokens", { multiUse: "true", code: "true" }).then(function (invite) {
      var code = invite.token;
      $("invite-code").textContent = code.slice(0, 4) + "-" + code.slice(4);
      $("join-link").textContent = invite.joinUrl;
      $("join-link").href = invite.joinUrl;
      if (qrUrl) URL.revokeObjectURL(qrUrl);
      qrUrl = URL.createObjectURL(new Blob([invite.qrSvg], { type: "image/svg+xml" }));
      $("qr").src = qrUrl;
      $("invite").hidden = false;
      if (!token) {
        token = code;
        sessionStorage.setItem(inviteKey, code);
        connect();
      }
    });
  });

  if (ownerToken) unlock(ownerToken);
  connect();
})();
</script>
</body>
</html>
"""
