'use strict';
// CPU time of processes from Linux /proc, for the benchmarks (NaN / zeros elsewhere).
const fs = require('node:fs');

/** CPU ms (user + system) a process has used so far. */
function cpuMs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in ticks of 10 ms
  } catch {
    return NaN;
  }
}

/** CPU ms so far of the infrastructure: every postgres, beam.smp/erl (RabbitMQ) and redis-server process. */
function infraCpuMs() {
  const sum = { postgres: 0, rabbitmq: 0, redis: 0 };
  let pids = [];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return sum;
  }
  for (const pid of pids) {
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const key = comm === 'postgres' ? 'postgres' : comm.startsWith('beam') || comm.startsWith('erl') || comm.endsWith('_check') ? 'rabbitmq' : comm.startsWith('redis') ? 'redis' : null;
    if (key) sum[key] += cpuMs(pid);
  }
  return sum;
}

module.exports = { cpuMs, infraCpuMs };
