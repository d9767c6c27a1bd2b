// Loaded with `node -r` into the local AWS emulators that tests start (see local-servers.ts).
// Plain CommonJS because `-r` runs before any loader and the emulators are CommonJS bundles.
'use strict';

// Orphan guard: if the test process dies without running its exit hooks (SIGKILL, OOM), the
// emulator notices its parent is gone and exits instead of holding ports and ~200 MB.
const parentPid = Number(process.env.FLOWCUT_PARENT_PID);
if (parentPid > 0) {
  setInterval(() => {
    try {
      process.kill(parentPid, 0);
    } catch {
      process.exit(0);
    }
  }, 500).unref();
}

// kinesis-local hard-codes 0.0.0.0 and has no setting for it; tests must only listen on
// loopback, so default the host of every listen() that names none.
const bindHost = process.env.FLOWCUT_BIND_HOST;
if (bindHost) {
  const net = require('node:net');
  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function patchedListen(...args) {
    const first = args[0];
    if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
      if (typeof args[1] !== 'string') args.splice(1, 0, bindHost);
    } else if (first !== null && typeof first === 'object' && !Array.isArray(first) && 'port' in first && !first.host) {
      args[0] = { ...first, host: bindHost };
    }
    return listen.apply(this, args);
  };
}

// A controllable clock: each SIGUSR2 moves Date forward by FLOWCUT_CLOCK_STEP_MS. Lets a test
// make kinesis-local's 300 s shard-iterator expiry happen for real in milliseconds.
const step = Number(process.env.FLOWCUT_CLOCK_STEP_MS);
if (step > 0) {
  let offset = 0;
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  class SkewedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(realNow() + offset);
      else super(...args);
    }
    static now() {
      return realNow() + offset;
    }
  }
  globalThis.Date = SkewedDate;
  // cats-effect (kinesis-mock's runtime) reads wall-clock time as performance.timeOrigin +
  // performance.now(); shifting only the origin leaves monotonic time (timers) alone.
  const { performance } = require('node:perf_hooks');
  const origin = performance.timeOrigin;
  Object.defineProperty(performance, 'timeOrigin', { configurable: true, get: () => origin + offset });
  process.on('SIGUSR2', () => {
    offset += step;
    // Acknowledge on stdout so the test knows the jump happened before it goes on.
    process.stdout.write(`FLOWCUT_CLOCK ${offset}\n`);
  });
}
