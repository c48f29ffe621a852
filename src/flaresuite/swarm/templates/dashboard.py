"""``GET /swarm/<id>``: devices, status and load, queue, jobs, throughput and the system log.

Plain JavaScript, no build step. The page reads the invite token from its own ``?token=`` and
connects as an observer; when the socket drops it reconnects with exponential backoff (0.5 s
doubling to 30 s) and equal jitter, so a deploy that drops every dashboard does not bring them
all back in the same instant (research section 3.4). Dashboards need a multi-use invite: each
reconnect presents the token again. The token sits in the page's URL, so the page sends no
``Referer`` and loads nothing from elsewhere.
"""

DASHBOARD = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Swarm {{ swarm_id }}</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2330; background: #f6f7f9; }
  h1 { font-size: 1.3rem; margin: 0 0 1rem; }
  .cards { display: flex; gap: .75rem; flex-wrap: wrap; margin-bottom: 1rem; }
  .card { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: .6rem .9rem; min-width: 8rem; }
  .card b { display: block; font-size: 1.4rem; }
  #connection { padding: .2rem .6rem; border-radius: 4px; font-weight: 600; }
  #connection.open { background: #d7f5dd; } #connection.closed { background: #fde2e1; }
  table { border-collapse: collapse; background: #fff; width: 100%; margin-bottom: 1rem; }
  th, td { border-bottom: 1px solid #e6e9ee; padding: .3rem .5rem; text-align: left; }
  tr.OFFLINE { color: #98a1ae; }
  .bar { background: #e6e9ee; border-radius: 3px; height: .6rem; width: 8rem; }
  .bar span { display: block; background: #3b82f6; height: 100%; border-radius: 3px; }
  #log { background: #111827; color: #d1d5db; font: 12px/1.5 ui-monospace, monospace; padding: .6rem; height: 14rem; overflow-y: auto; }
  #log .WARN { color: #fbbf24; } #log .ERROR { color: #f87171; }
  .columns { display: grid; grid-template-columns: 2fr 1fr; gap: 1rem; }
</style>
</head>
<body>
<h1>Swarm <code>{{ swarm_id }}</code> <span id="connection" class="closed">connecting</span></h1>
<div class="cards">
  <div class="card">devices online<b id="online">0</b></div>
  <div class="card">devices known<b id="total">0</b></div>
  <div class="card">queued<b id="queued">0</b></div>
  <div class="card">running<b id="assigned">0</b></div>
  <div class="card">done<b id="done">0</b></div>
  <div class="card">failed<b id="failed">0</b></div>
  <div class="card">chunks/s (1 min)<b id="throughput">0</b></div>
</div>
<div class="columns">
  <div>
    <table id="devices">
      <thead><tr><th>device</th><th>name</th><th>status</th><th>load</th><th>chunks</th><th>done</th><th>weight</th></tr></thead>
      <tbody></tbody>
    </table>
    <table id="jobs">
      <thead><tr><th>job</th><th>kind</th><th>progress</th><th>done</th><th>failed</th><th>state</th></tr></thead>
      <tbody></tbody>
    </table>
  </div>
  <div><div id="log"></div></div>
</div>
<script>
(function () {
  "use strict";
  var swarmId = {{ swarm_id | tojson }};
  var token = new URLSearchParams(location.search).get("token");
  var $ = function (id) { return document.getElementById(id); };
  var attempt = 0, timer = null;

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
    var td = cell(row, ""), outer = document.createElement("div"), inner = document.createElement("span");
    outer.className = "bar";
    inner.style.width = Math.round(Math.max(0, Math.min(1, fraction)) * 100) + "%";
    outer.appendChild(inner);
    td.appendChild(outer);
  }

  function renderSnapshot(s) {
    $("online").textContent = s.devicesOnline;
    $("total").textContent = s.devicesTotal;
    $("queued").textContent = s.queue.queued;
    $("assigned").textContent = s.queue.assigned;
    $("done").textContent = s.queue.done;
    $("failed").textContent = s.queue.failed;
    $("throughput").textContent = s.throughput.toFixed(2);
    var body = $("devices").tBodies[0];
    body.replaceChildren();
    s.devices.forEach(function (d) {
      var row = document.createElement("tr");
      row.className = d.status;
      row.dataset.deviceId = d.id;
      cell(row, d.id);
      cell(row, d.registered ? d.name : "(unregistered)");
      cell(row, d.status);
      bar(row, d.load === null ? d.active / d.quota : d.load);
      cell(row, d.active + " / " + d.quota);
      cell(row, d.completed);
      cell(row, d.weight);
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
      div.textContent = new Date(line.at * 1000).toISOString().slice(11, 19) + " " + line.level + " " + line.message;
      log.appendChild(div);
    });
    while (log.childNodes.length > 200) log.removeChild(log.firstChild);
    log.scrollTop = log.scrollHeight;
  }

  function connect() {
    if (!token) {
      setConnection("closed", "open this page with ?token=<multi-use invite>");
      return;
    }
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var url = scheme + location.host + "/swarm/" + encodeURIComponent(swarmId) +
      "/ws?role=observer&token=" + encodeURIComponent(token);
    var ws = new WebSocket(url);
    ws.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.type === "WELCOME") { attempt = 0; setConnection("open", "live"); }
      if (message.type === "SNAPSHOT") renderSnapshot(message.payload);
    };
    ws.onclose = function () { scheduleReconnect(); };
  }

  function scheduleReconnect() {
    if (timer !== null) return;
    // Exponential backoff with equal jitter: half the delay fixed, half random.
    var base = Math.min(30000, 500 * Math.pow(2, attempt));
    var delay = base / 2 + Math.random() * base / 2;
    attempt += 1;
    setConnection("closed", "reconnecting in " + (delay / 1000).toFixed(1) + " s");
    timer = setTimeout(function () { timer = null; connect(); }, delay);
  }

  connect();
})();
</script>
</body>
</html>
"""
