"""``GET /swarm/<id>/worker.js``: the join page's Web Worker, which runs the chunk kernels.

The kernels must give exactly the numbers :mod:`flaresuite.swarm.kernels` defines (the
coordinator compares results for equality); tests/swarm/test_kernels.py runs this script under
Node and checks it against the Python definitions. Every intermediate value stays below 2**53,
so doubles are exact.

Messages in: ``{type: "benchmark"}``, ``{type: "run", chunk: {chunkId, kind, ops, seed}}``
and ``{type: "clock", seconds}``. Messages out: ``{type: "benchmark", opsPerSecond,
durationMs}``, ``{type: "done", chunkId, result, durationMs}``, ``{type: "failed", chunkId,
error, durationMs}`` and ``{type: "tick"}`` every ``seconds``. The page keeps its heartbeat on a
worker's clock because browsers slow a hidden tab's own timers to once a minute, which would
let the coordinator take a working device for a silent one; a worker's timers keep time.
"""

WORKER_JS = r""""use strict";
// The chunk kernels of flaresuite.swarm.kernels, which defines them; results must match it.
var MODULUS = 67108859, MULTIPLIER = 48271, INCREMENT = 12345;
var ENTRY_RANGE = 1024, MAX_MATRIX_SIDE = 256, BENCHMARK_OPS = 2000000;

function mathStress(seed, ops) {
  var x = seed % MODULUS;
  for (var i = 0; i < ops; i++) x = (MULTIPLIER * x + INCREMENT) % MODULUS;
  return x;
}

function matrixSide(ops) {
  var side = 2;
  while ((side + 1) * (side + 1) * (side + 1) <= ops && side < MAX_MATRIX_SIDE) side++;
  return side;
}

function matMul(seed, ops) {
  var n = matrixSide(ops), x = seed % MODULUS;
  function draws(count) {
    var values = new Float64Array(count);
    for (var i = 0; i < count; i++) {
      x = (MULTIPLIER * x + INCREMENT) % MODULUS;
      values[i] = x % ENTRY_RANGE;
    }
    return values;
  }
  var a = draws(n * n), b = draws(n * n), u = draws(n), w = draws(n);
  var row = new Float64Array(n), result = 0;
  for (var i = 0; i < n; i++) {
    row.fill(0);  // row i of C = A B, exact: every entry is below n * 2**20
    for (var k = 0; k < n; k++) {
      var aik = a[i * n + k], offset = k * n;
      for (var j = 0; j < n; j++) row[j] += aik * b[offset + j];
    }
    var sum = 0;
    for (var j2 = 0; j2 < n; j2++) sum += row[j2] * w[j2];
    result = (result + u[i] * (sum % MODULUS)) % MODULUS;
  }
  return result;
}

var KERNELS = { MATH_STRESS: mathStress, MAT_MUL: matMul };

function run(chunk) {
  var kernel = KERNELS[chunk.kind], started = performance.now();
  if (!kernel) {
    return { type: "failed", chunkId: chunk.chunkId, error: "unknown kind " + chunk.kind,
             durationMs: 0.001 };
  }
  var result = kernel(chunk.seed, chunk.ops);
  return { type: "done", chunkId: chunk.chunkId, result: result,
           durationMs: Math.max(0.001, performance.now() - started) };
}

self.onmessage = function (event) {
  var message = event.data;
  if (message.type === "benchmark") {
    var started = performance.now();
    mathStress(1, BENCHMARK_OPS);
    var durationMs = Math.max(0.001, performance.now() - started);
    self.postMessage({ type: "benchmark", opsPerSecond: BENCHMARK_OPS / durationMs * 1000,
                       durationMs: durationMs });
  } else if (message.type === "run") {
    self.postMessage(run(message.chunk));
  } else if (message.type === "clock") {
    setInterval(function () { self.postMessage({ type: "tick" }); }, message.seconds * 1000);
  }
};
"""
