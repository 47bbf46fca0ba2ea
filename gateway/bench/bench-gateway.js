'use strict';
/**
 * Gateway overhead benchmark (npm run bench:gateway).
 *
 * One run starts, each in its own process, a minimal upstream service (bench-upstream.js:
 * express + platform createAuth on an authenticated GET) and the built gateway in front of it
 * (Redis limiter with a limit nobody reaches), then drives the same authenticated GET with
 * autocannon (keep-alive, -c 50) directly at the service and through the gateway, alternating,
 * and prints req/s, p50/p99, the throughput ratio and the p99 the gateway adds.
 * Targets: gateway >= 60 % of direct req/s, p99 added <= 5 ms.
 *
 * The floor, in the same runs: a bare proxy (bench-bare-proxy.js: node http → undici pool, no
 * checks at all) in front of the same service — what the extra hop alone costs on this box,
 * so the gateway's figures read against what any node proxy here gets, not only against none.
 *
 *   --runs N (3)  --duration S (10)  --connections C (50)  --warmup S (2)
 *   --profile     run the gateway and the bare proxy with --cpu-prof (profiles in gateway/bench/profiles)
 *   --rate R (300) also measure latency at a fixed R req/s (open loop), below saturation, where the
 *                 added latency is the hop itself rather than queueing for a shared CPU; 0 = skip
 */
const path = require('node:path');
const net = require('node:net');
const os = require('node:os');
const { fork } = require('node:child_process');
const { randomUUID } = require('node:crypto');
const autocannon = require('autocannon');
const { startTestIssuer } = require('@guitaronline/testing');
const { cpuMs } = require('../../scripts/proc-cpu');

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const RUNS = opt('runs', 3);
const DURATION = opt('duration', 10);
const CONNECTIONS = opt('connections', 50);
const WARMUP = opt('warmup', 2);
const PROFILE = args.includes('--profile');
const RATE = opt('rate', 300);

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });

async function waitForHealth(url, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not come up`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function startProcess(file, env, execArgv = []) {
  const child = fork(file, [], { env: { ...process.env, ...env }, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child.on('exit', (code, signal) => {
    if (!child.stopping) {
      console.error(`${path.basename(file)} exited early (${code ?? signal})`);
      process.exit(1);
    }
  });
  return child;
}

function stopProcess(child) {
  return new Promise((resolve) => {
    child.stopping = true;
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  });
}

function load(url, token, duration, extra = {}) {
  return new Promise((resolve, reject) => {
    autocannon(
      { url, connections: CONNECTIONS, duration, pipelining: 1, headers: { authorization: `Bearer ${token}` }, ...extra },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

/** CPU seconds a child process has used so far (Linux /proc; NaN elsewhere). */
const cpuSeconds = (child) => cpuMs(child.pid) / 1000;

/**
 * Open-loop load at a fixed rate with µs timing (autocannon's histogram has 1 ms resolution,
 * too coarse for a single hop): keep-alive sockets, one request every 1/rate s.
 */
function fixedRate(url, token, rate, seconds) {
  const http = require('node:http');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
  const latencies = [];
  let failed = 0;
  return new Promise((resolve) => {
    const total = rate * seconds;
    let sent = 0;
    let done = 0;
    const started = process.hrtime.bigint();
    const tick = () => {
      const due = Math.min(total, Math.floor((Number(process.hrtime.bigint() - started) / 1e9) * rate) + 1);
      while (sent < due) {
        sent++;
        const t0 = process.hrtime.bigint();
        http
          .get(url, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
            res.resume();
            res.on('end', () => {
              if (res.statusCode === 200) latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
              else failed++;
              if (++done === total) finish();
            });
          })
          .on('error', () => {
            failed++;
            if (++done === total) finish();
          });
      }
      if (sent < total) setTimeout(tick, 1);
    };
    const finish = () => {
      agent.destroy();
      latencies.sort((a, b) => a - b);
      const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
      resolve({ p50: at(0.5), p99: at(0.99), failed });
    };
    tick();
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

function summarise(result) {
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    total: result.requests.total,
  };
}

async function main() {
  const issuer = await startTestIssuer();
  const token = issuer.token({ role: 'student' }, { expiresInSeconds: 3600 });
  const upstreamPort = await freePort();
  const gatewayPort = await freePort();
  const barePort = await freePort();
  const upstream = startProcess(path.join(__dirname, 'bench-upstream.js'), { PORT: String(upstreamPort), JWKS_URL: issuer.jwksUrl });
  const direct = `http://127.0.0.1:${upstreamPort}`;
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const bareUrl = `http://127.0.0.1:${barePort}`;
  const execArgv = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${path.join(__dirname, 'profiles')}`] : [];
  const bare = startProcess(path.join(__dirname, 'bench-bare-proxy.js'), { PORT: String(barePort), UPSTREAM: direct }, execArgv);
  const gateway = startProcess(
    path.join(__dirname, '..', 'dist', 'src', 'main.js'),
    {
      PORT: String(gatewayPort),
      HOST: '127.0.0.1',
      APP_ENV: 'development',
      LOG_LEVEL: 'warn',
      LESSONS_URL: direct,
      IDENTITY_URL: issuer.jwksUrl.replace('/.well-known/jwks.json', ''),
      AUTH_RATE_LIMIT_BACKEND: 'redis',
      AUTH_RATE_LIMIT_REDIS_NAMESPACE: `bench-${randomUUID()}`,
      API_RATE_LIMIT_REQUESTS: '1000000000',
    },
    execArgv,
  );
  try {
    await Promise.all([waitForHealth(direct), waitForHealth(gatewayUrl), waitForHealth(bareUrl)]);
    const route = '/api/v1/lessons/my';
    const targets = [
      ['direct', direct],
      ['bare', bareUrl],
      ['gateway', gatewayUrl],
    ];
    for (const [, base] of targets) {
      const res = await fetch(`${base}${route}`, { headers: { authorization: `Bearer ${token}` } });
      if (res.status !== 200) throw new Error(`${base}${route} answered ${res.status}: ${await res.text()}`);
    }
    console.log(`gateway benchmark: GET ${route}, -c ${CONNECTIONS}, ${DURATION} s per measurement, ${RUNS} runs (warm-up ${WARMUP} s each)`);
    console.log(`machine: ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (other work on the box skews both sides)`);
    const runs = [];
    for (let run = 1; run <= RUNS; run++) {
      const measured = {};
      for (const [name, base] of targets) {
        if (WARMUP > 0) await load(`${base}${route}`, token, WARMUP);
        const cpu0 = [cpuSeconds(upstream), cpuSeconds(gateway), cpuSeconds(bare)];
        measured[name] = summarise(await load(`${base}${route}`, token, DURATION));
        const cpu1 = [cpuSeconds(upstream), cpuSeconds(gateway), cpuSeconds(bare)];
        const perRequest = (i) => (Number.isNaN(cpu0[i]) || Number.isNaN(cpu1[i]) ? undefined : ((cpu1[i] - cpu0[i]) / measured[name].total) * 1e6);
        measured[name].upstreamCpuUs = perRequest(0);
        measured[name].gatewayCpuUs = perRequest(1);
        measured[name].bareCpuUs = perRequest(2);
      }
      const ratio = measured.gateway.rps / measured.direct.rps;
      const addedP99 = measured.gateway.p99 - measured.direct.p99;
      const bareRatio = measured.bare.rps / measured.direct.rps;
      const bareAddedP99 = measured.bare.p99 - measured.direct.p99;
      runs.push({ ...measured, ratio, addedP99, bareRatio, bareAddedP99 });
      const line = (m) => `${fmt(m.rps)} req/s  p50 ${fmt(m.p50, 1)} ms  p99 ${fmt(m.p99, 1)} ms${m.non2xx || m.errors ? `  (non-2xx ${m.non2xx}, errors ${m.errors})` : ''}`;
      console.log(`run ${run}: direct  ${line(measured.direct)}`);
      console.log(`       bare    ${line(measured.bare)}  (the floor: a proxy with no checks)`);
      console.log(`       gateway ${line(measured.gateway)}`);
      console.log(
        `       ratio ${fmt(ratio * 100, 1)} %  added p99 ${fmt(addedP99, 1)} ms; bare proxy ${fmt(bareRatio * 100, 1)} %, added p99 ${fmt(bareAddedP99, 1)} ms  (load ${os.loadavg()[0].toFixed(2)})`,
      );
      if (measured.gateway.gatewayCpuUs !== undefined) {
        console.log(
          `       CPU per request: service ${fmt(measured.direct.upstreamCpuUs)} µs direct / ${fmt(measured.gateway.upstreamCpuUs)} µs behind the gateway; gateway ${fmt(measured.gateway.gatewayCpuUs)} µs, bare proxy ${fmt(measured.bare.bareCpuUs)} µs`,
        );
      }
    }
    const m = (pick) => median(runs.map(pick));
    const ratio = m((r) => r.ratio);
    const added = m((r) => r.addedP99);
    console.log('');
    console.log(`median  direct  ${fmt(m((r) => r.direct.rps))} req/s  p50 ${fmt(m((r) => r.direct.p50), 1)} ms  p99 ${fmt(m((r) => r.direct.p99), 1)} ms`);
    console.log(`median  bare    ${fmt(m((r) => r.bare.rps))} req/s  p50 ${fmt(m((r) => r.bare.p50), 1)} ms  p99 ${fmt(m((r) => r.bare.p99), 1)} ms`);
    console.log(`median  gateway ${fmt(m((r) => r.gateway.rps))} req/s  p50 ${fmt(m((r) => r.gateway.p50), 1)} ms  p99 ${fmt(m((r) => r.gateway.p99), 1)} ms`);
    if (runs[0].gateway.gatewayCpuUs !== undefined) {
      console.log(`median  CPU per request: service ${fmt(m((r) => r.direct.upstreamCpuUs))} µs, gateway ${fmt(m((r) => r.gateway.gatewayCpuUs))} µs, bare proxy ${fmt(m((r) => r.bare.bareCpuUs))} µs`);
    }
    console.log(`median  ratio ${fmt(ratio * 100, 1)} % (target >= 60 %: ${ratio >= 0.6 ? 'met' : 'NOT met'})  added p99 ${fmt(added, 1)} ms (target <= 5 ms: ${added <= 5 ? 'met' : 'NOT met'})`);
    console.log(
      `median  the floor (bare proxy): ${fmt(m((r) => r.bareRatio) * 100, 1)} % of direct, added p99 ${fmt(m((r) => r.bareAddedP99), 1)} ms; ` +
        `the gateway is ${fmt(m((r) => r.gateway.rps / r.bare.rps) * 100, 1)} % of the bare proxy's req/s, p99 ${fmt(m((r) => r.gateway.p99 - r.bare.p99), 1)} ms above it`,
    );
    if (RATE > 0) {
      console.log('');
      const fixed = { direct: [], bare: [], gateway: [] };
      for (let run = 1; run <= RUNS; run++) {
        for (const [name, base] of targets) {
          fixed[name].push(await fixedRate(`${base}${route}`, token, RATE, 5));
        }
      }
      const fm = (name, pick) => median(fixed[name].map(pick));
      console.log(
        `fixed ${RATE} req/s (open loop, 5 s, median of ${RUNS}): direct p50 ${fmt(fm('direct', (x) => x.p50), 2)} ms p99 ${fmt(fm('direct', (x) => x.p99), 2)} ms; ` +
          `bare proxy p50 ${fmt(fm('bare', (x) => x.p50), 2)} ms p99 ${fmt(fm('bare', (x) => x.p99), 2)} ms; ` +
          `gateway p50 ${fmt(fm('gateway', (x) => x.p50), 2)} ms p99 ${fmt(fm('gateway', (x) => x.p99), 2)} ms; ` +
          `added p50 ${fmt(fm('gateway', (x) => x.p50) - fm('direct', (x) => x.p50), 2)} ms p99 ${fmt(fm('gateway', (x) => x.p99) - fm('direct', (x) => x.p99), 2)} ms` +
          (Object.values(fixed).some((xs) => xs.some((x) => x.failed)) ? ' (some requests failed)' : ''),
      );
    }
    const bad = runs.some((r) => targets.some(([name]) => r[name].non2xx || r[name].errors));
    if (bad) console.log('WARNING: some requests failed or were not 2xx; the figures are not comparable');
  } finally {
    await Promise.all([stopProcess(gateway), stopProcess(bare), stopProcess(upstream)]);
    await issuer.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
