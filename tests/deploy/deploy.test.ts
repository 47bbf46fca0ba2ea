/**
 * The deployment material cannot be run here (no Docker engine, no cluster), so these tests
 * keep it honest by parsing it and checking it against the code: service directories,
 * default ports, the environment variables the config schemas read, the queue names the
 * messaging library declares, and the production guard for placeholder secrets. The
 * container scripts (entrypoint, healthcheck) and the Postgres backup/restore scripts are run
 * for real.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments, parseDocument } from 'yaml';
import { isPlaceholderSecret } from '@guitaronline/platform';
import { DEFAULT_EXCHANGE, DEFAULT_RETRY_DELAYS_MS, queueNames } from '@guitaronline/messaging';

const root = path.resolve(__dirname, '../..');
const read = (rel: string) => fs.readFileSync(path.join(root, rel), 'utf8');
const exists = (rel: string) => fs.existsSync(path.join(root, rel));

type Obj = Record<string, any>;

// ------------------------------------------------------------------ what the code says

/** DESIGN.md "Services": the default port of every process. */
const DESIGN_PORTS: Record<string, number> = {
  gateway: 8000,
  identity: 8001,
  booking: 8002,
  billing: 8003,
  lessons: 8004,
  notifications: 8005,
  admin: 8006,
};

/** Service directories present in the tree (read at test time, so a new service is covered). */
const serviceDirs = fs
  .readdirSync(path.join(root, 'services'), { withFileTypes: true })
  .filter((d) => d.isDirectory() && fs.existsSync(path.join(root, 'services', d.name, 'package.json')))
  .map((d) => d.name)
  .sort();
const appNames = [...serviceDirs, 'gateway'];

const configPath = (name: string) => (name === 'gateway' ? 'gateway/src/config.ts' : `services/${name}/src/config.ts`);

/** `KEY:` entries of a zod env schema source (the brief's convention: upper-case keys). */
function schemaKeys(rel: string): Set<string> {
  return new Set([...read(rel).matchAll(/^\s*([A-Z][A-Z0-9_]+)\s*:/gm)].map((m) => m[1]));
}

const platformKeys = schemaKeys('shared/platform/src/config.ts');
/** Read by the container itself (Dockerfile, deploy/docker/*), not by a config schema. */
const RUNTIME_KEYS = new Set(['SERVICE', 'NODE_ENV']);

/** The variables a process reads, or null while its config.ts does not exist yet. */
function readsFor(name: string): Set<string> | null {
  const rel = configPath(name);
  if (!exists(rel)) return null;
  const own = schemaKeys(rel);
  const base = /\.\.\.\s*baseEnvShape/.test(read(rel)) ? platformKeys : new Set<string>();
  return new Set([...own, ...base, ...RUNTIME_KEYS]);
}

/** Every variable any process reads (for config shared by all, like the ConfigMap). */
function readsByAnyone(): { keys: Set<string>; pending: string[] } {
  const keys = new Set([...platformKeys, ...RUNTIME_KEYS]);
  const pending: string[] = [];
  for (const name of appNames) {
    const reads = readsFor(name);
    if (reads) for (const k of reads) keys.add(k);
    else pending.push(name);
  }
  return { keys, pending };
}

/** The provisioner (scripts/provision*.js) reads DATABASE_URL and <SERVICE>_DB_ROLE_PASSWORD. */
const provisionReads = new Set([
  'SERVICE',
  'NODE_ENV',
  'APP_ENV',
  'LOG_LEVEL',
  'DATABASE_URL',
  ...serviceDirs.map((s) => `${s.toUpperCase()}_DB_ROLE_PASSWORD`),
]);

function defaultPort(name: string): number {
  const rel = configPath(name);
  if (exists(rel)) {
    const m = /\bPORT\s*:\s*envPort\.default\((\d+)\)/.exec(read(rel));
    if (m) return Number(m[1]);
  }
  const port = DESIGN_PORTS[name];
  if (!port) throw new Error(`no default port known for ${name}: add it to DESIGN.md and DESIGN_PORTS`);
  return port;
}

const unknownNames = (names: Iterable<string>, allowed: Set<string>) => [...names].filter((n) => !allowed.has(n)).sort();

// ------------------------------------------------------------------ the material

function loadYaml(rel: string): Obj {
  const doc = parseDocument(read(rel), { merge: true });
  expect(doc.errors.map((e) => e.message)).toEqual([]);
  return doc.toJS() as Obj;
}

function loadManifests(rel: string): Obj[] {
  const docs = parseAllDocuments(read(rel), { merge: true });
  for (const d of docs) expect(d.errors.map((e) => `${rel}: ${e.message}`)).toEqual([]);
  return docs.map((d) => d.toJS() as Obj).filter(Boolean);
}

const k8sDir = 'deploy/k8s';
const k8sFiles = fs
  .readdirSync(path.join(root, k8sDir))
  .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
  .sort();
const manifestFiles = k8sFiles.filter((f) => f !== 'kustomization.yaml' && !/\.example\.ya?ml$/.test(f));

// ================================================================== Dockerfile

describe('Dockerfile', () => {
  const text = read('Dockerfile');
  const lines = text.split('\n').map((l) => l.trim());
  const fromLines = lines.filter((l) => /^FROM\s/i.test(l));
  const finalStage = text.slice(text.lastIndexOf('\nFROM '));

  it('when built, then it is multi-stage: install, compile with tsc -b, production dependencies only at run time', () => {
    expect(fromLines.length).toBeGreaterThanOrEqual(3);
    expect(text).toMatch(/npm ci\b/);
    expect(text).toMatch(/npx tsc -b/);
    expect(text).toMatch(/npm ci --omit=dev/);
    expect(finalStage).toMatch(/COPY --from=build\b/);
    expect(finalStage).toMatch(/COPY --from=prod-deps\b/);
    expect(finalStage).toMatch(/ENV NODE_ENV=production/);
  });

  it('when the container runs, then it runs as a non-root user under tini with the entrypoint script', () => {
    const users = finalStage.split('\n').filter((l) => /^USER\s/i.test(l.trim()));
    expect(users.length).toBeGreaterThan(0);
    const user = users[users.length - 1].trim().split(/\s+/)[1].split(':')[0];
    expect(user === 'node' || (/^\d+$/.test(user) && Number(user) > 0)).toBe(true);
    expect(finalStage).toMatch(/ENTRYPOINT \["\/usr\/bin\/tini", "--"\]/);
    expect(finalStage).toMatch(/CMD \["\/app\/deploy\/docker\/entrypoint\.sh"\]/);
    expect(finalStage).toMatch(/HEALTHCHECK[\s\S]*deploy\/docker\/healthcheck\.js/);
    expect(finalStage).toMatch(/ARG SERVICE/);
    expect(finalStage).toMatch(/SERVICE=\$\{SERVICE\}/);
  });

  it('when it copies files from the context, then they exist and .dockerignore keeps them while excluding host artefacts', () => {
    const copied = [...finalStage.matchAll(/^COPY (?!--from)(\S+)/gm)].map((m) => m[1]);
    for (const src of copied) expect(exists(src)).toBe(true);
    expect(exists('scripts/provision.js')).toBe(true);
    const ignore = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const pattern of ['**/node_modules', '**/dist', '.git', '**/coverage', '.tmp']) expect(ignore).toContain(pattern);
    // deploy/* is ignored except the container's own scripts
    expect(ignore.indexOf('!deploy/docker')).toBeGreaterThan(ignore.indexOf('deploy/*'));
    for (const src of copied) expect(ignore).not.toContain(src.replace(/\/$/, ''));
  });

  it('when the scripts are committed, then they are executable', () => {
    for (const rel of ['deploy/docker/entrypoint.sh', 'deploy/postgres/backup.sh', 'deploy/postgres/restore.sh']) {
      expect(fs.statSync(path.join(root, rel)).mode & 0o111).not.toBe(0);
    }
  });
});

// ================================================================== entrypoint + healthcheck

describe('deploy/docker/entrypoint.sh', () => {
  let scratch: string;

  beforeAll(() => {
    // a scratch /app: every entry file, and a `node` that prints what it was asked to run
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'entrypoint-'));
    const touch = (rel: string) => {
      fs.mkdirSync(path.join(scratch, path.dirname(rel)), { recursive: true });
      fs.writeFileSync(path.join(scratch, rel), '');
    };
    for (const s of serviceDirs) touch(`services/${s}/dist/src/main.js`);
    touch('gateway/dist/src/main.js');
    touch('scripts/provision.js');
    fs.mkdirSync(path.join(scratch, 'bin'));
    fs.writeFileSync(path.join(scratch, 'bin', 'node'), '#!/bin/sh\necho "node $*"\n', { mode: 0o755 });
  });

  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

  const run = (service: string | undefined) =>
    spawnSync('sh', [path.join(root, 'deploy/docker/entrypoint.sh')], {
      env: { PATH: `${path.join(scratch, 'bin')}:${process.env.PATH}`, APP_ROOT: scratch, ...(service === undefined ? {} : { SERVICE: service }) },
      encoding: 'utf8',
    });

  const expected: [string, string][] = [
    ...serviceDirs.map((s): [string, string] => [s, `services/${s}/dist/src/main.js`]),
    ['gateway', 'gateway/dist/src/main.js'],
    ['provision', 'scripts/provision.js'],
  ];

  it.each(expected)('when SERVICE=%s, then it execs node on %s', (service, entry) => {
    const result = run(service);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(`node --enable-source-maps ${entry}`);
  });

  it('when SERVICE is unset or unknown, then it exits 64 naming the choices and runs nothing', () => {
    for (const service of [undefined, '', 'billingx', '../gateway']) {
      const result = run(service);
      expect(result.status).toBe(64);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/gateway, provision/);
      for (const s of serviceDirs) expect(result.stderr).toContain(s);
    }
  });
});

describe('deploy/docker/healthcheck.js', () => {
  const script = path.join(root, 'deploy/docker/healthcheck.js');
  const table = Object.fromEntries(
    [...read('deploy/docker/healthcheck.js').matchAll(/^\s+([a-z]+): (\d+),$/gm)].map((m) => [m[1], Number(m[2])]),
  );

  it('when it knows the default ports, then they are every process’s default port', () => {
    expect(Object.keys(table).sort()).toEqual([...appNames].sort());
    for (const name of appNames) expect([name, table[name]]).toEqual([name, defaultPort(name)]);
  });

  /** An HTTP server answering /health with `status`; closed again by the returned function. */
  async function serve(status: number): Promise<{ port: number; close: () => Promise<void> }> {
    const server = http.createServer((req, res) => {
      res.statusCode = req.url === '/health' ? status : 404;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      port: (server.address() as AddressInfo).port,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  /** Exit code of the healthcheck (async spawn: the test's server must keep answering meanwhile). */
  const check = (env: Record<string, string>) =>
    new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [script], { env: { PATH: process.env.PATH, ...env }, stdio: 'ignore' });
      child.on('exit', (code) => resolve(code));
    });

  it('when /health answers 200, then it exits 0; 503, then 1; nothing listening, then 1', async () => {
    const up = await serve(200);
    const healthy = await check({ SERVICE: 'booking', PORT: String(up.port) });
    await up.close();
    const closed = await check({ SERVICE: 'booking', PORT: String(up.port) });
    const down = await serve(503);
    const unhealthy = await check({ SERVICE: 'gateway', PORT: String(down.port) });
    await down.close();
    expect({ healthy, unhealthy, closed }).toEqual({ healthy: 0, unhealthy: 1, closed: 1 });
  });

  it('when the container is the provisioner, then it is healthy without a server; an unknown SERVICE without PORT is not', async () => {
    expect(await check({ SERVICE: 'provision' })).toBe(0);
    expect(await check({ SERVICE: 'nope' })).toBe(1);
  });
});

// ================================================================== docker-compose.yml

describe('docker-compose.yml', () => {
  const compose = loadYaml('docker-compose.yml');
  const services = compose.services as Record<string, Obj>;
  const infra = ['postgres', 'rabbitmq', 'redis', 'mailpit'];
  const appContainers = [...appNames, 'provision'];
  const env = (name: string) => (services[name].environment ?? {}) as Record<string, string>;

  /** "127.0.0.1:5432:5432" → { host: '127.0.0.1', published: 5432, target: 5432 } */
  const ports = (name: string) =>
    ((services[name].ports ?? []) as (string | number)[]).map((p) => {
      const parts = String(p).split(':');
      return { host: parts.length === 3 ? parts[0] : '0.0.0.0', published: Number(parts[parts.length - 2]), target: Number(parts[parts.length - 1]) };
    });

  it('when listed, then it has the infrastructure, mailpit, the provisioner, every service and the gateway', () => {
    expect(Object.keys(services).sort()).toEqual([...infra, ...appContainers].sort());
    expect(services.rabbitmq.image).toMatch(/^rabbitmq:3\.13-management/);
    expect(services.mailpit.image).toMatch(/^axllent\/mailpit:/);
    expect(services.postgres.image).toMatch(/^postgres:16/);
    expect(services.redis.image).toMatch(/^redis:7/);
  });

  it('when the host is contended, then notifications and admin have a quarter of the CPU weight of the rest (scripts/priorities.js)', () => {
    for (const name of appContainers) {
      expect([name, services[name].cpu_shares]).toEqual([name, ['notifications', 'admin'].includes(name) ? 256 : undefined]);
    }
  });

  it('when the infrastructure starts, then each part has a healthcheck and the data stores keep their volume', () => {
    expect(services.postgres.healthcheck.test.join(' ')).toMatch(/pg_isready/);
    expect(services.rabbitmq.healthcheck.test).toEqual(['CMD', 'rabbitmq-diagnostics', '-q', 'ping']);
    expect(services.redis.healthcheck.test.join(' ')).toMatch(/redis-cli ping/);
    expect(services.mailpit.healthcheck.test.join(' ')).toMatch(/readyz/);
    expect(services.postgres.volumes.join(' ')).toMatch(/:\/var\/lib\/postgresql\/data$/);
    expect(services.rabbitmq.volumes.join(' ')).toMatch(/:\/var\/lib\/rabbitmq$/);
    for (const volume of ['postgres-data', 'rabbitmq-data']) expect(Object.keys(compose.volumes)).toContain(volume);
  });

  it('when app containers are built, then all use the same image and build, each with its own SERVICE', () => {
    const first = services[appContainers[0]];
    for (const name of appContainers) {
      expect([name, services[name].image]).toEqual([name, first.image]);
      expect([name, services[name].build]).toEqual([name, first.build]);
      expect([name, env(name).SERVICE]).toEqual([name, name]);
    }
    expect(first.build.context).toBe('.');
    expect(first.build.target).toBe('runtime');
  });

  it('when an app container starts, then it waits for provisioning to complete and for a healthy RabbitMQ and Postgres', () => {
    for (const name of appNames) {
      const deps = services[name].depends_on as Obj;
      expect([name, deps.provision?.condition]).toEqual([name, 'service_completed_successfully']);
      expect([name, deps.rabbitmq?.condition]).toEqual([name, 'service_healthy']);
      expect([name, deps.postgres?.condition]).toEqual([name, 'service_healthy']);
      expect([name, services[name].healthcheck?.test]).toEqual([name, ['CMD', 'node', '/app/deploy/docker/healthcheck.js']]);
      expect([name, env(name).APP_ENV]).toEqual([name, 'development']);
    }
    expect(services.provision.depends_on.postgres.condition).toBe('service_healthy');
    expect(services.provision.restart).toBe('no');
    expect(services.gateway.depends_on.redis.condition).toBe('service_healthy');
  });

  it('when ports are published, then only the gateway, the UIs and the loopback-only infrastructure ports are', () => {
    for (const name of serviceDirs) expect([name, ports(name)]).toEqual([name, []]);
    expect(ports('provision')).toEqual([]);
    expect(ports('gateway')).toEqual([{ host: '0.0.0.0', published: 8000, target: 8000 }]);
    const infraPorts: Record<string, number[]> = { postgres: [5432], rabbitmq: [5672, 15672], redis: [6379], mailpit: [1025, 8025] };
    for (const [name, expected] of Object.entries(infraPorts)) {
      const published = ports(name);
      expect([name, published.map((p) => p.target).sort((a, b) => a - b)]).toEqual([name, expected]);
      // standard localhost ports (what `npm start` / `npm test` expect), never the network
      for (const p of published) expect([name, p.host, p.published]).toEqual([name, '127.0.0.1', p.target]);
    }
  });

  it('when a process gets environment variables, then each name is one its config reads (checked once its config.ts exists)', () => {
    for (const name of appNames) {
      const reads = readsFor(name);
      if (!reads) continue; // that service's config.ts is not written yet
      expect([name, unknownNames(Object.keys(env(name)), reads)]).toEqual([name, []]);
    }
    expect(unknownNames(Object.keys(env('provision')), provisionReads)).toEqual([]);
    expect(read('scripts/provision-lib.js')).toMatch(/_DB_ROLE_PASSWORD/);
  });

  it('when provisioning sets each role password, then the service logs in with the same one, and only provisioning holds the owner’s', () => {
    for (const name of serviceDirs) {
      const key = `${name.toUpperCase()}_DB_ROLE_PASSWORD`;
      expect([name, env('provision')[key]]).toEqual([name, env(name).DB_ROLE_PASSWORD]);
      expect(env(name).DB_ROLE_PASSWORD).toBeTruthy();
      expect(new URL(env(name).DATABASE_URL).password).toBe('');
    }
    expect(new URL(env('provision').DATABASE_URL).password).not.toBe('');
  });

  it('when a URL names a host, then it is a compose service, and <SERVICE>_URL points at that service’s port', () => {
    for (const name of [...appContainers]) {
      for (const [key, value] of Object.entries(env(name))) {
        if (!/_URL$/.test(key)) continue;
        const url = new URL(value);
        expect([name, key, Object.keys(services).includes(url.hostname)]).toEqual([name, key, true]);
        const target = key.replace(/_URL$/, '').toLowerCase();
        if (appNames.includes(target)) expect([name, key, url.hostname, Number(url.port)]).toEqual([name, key, target, defaultPort(target)]);
      }
    }
    for (const target of serviceDirs) expect([target, env('gateway')[`${target.toUpperCase()}_URL`]]).toEqual([target, `http://${target}:${defaultPort(target)}`]);
    expect(new URL(env('gateway').REDIS_URL).hostname).toBe('redis');
    expect(new URL(env('notifications').SMTP_URL).host).toBe('mailpit:1025');
    expect(new URL(env('admin').RABBITMQ_MANAGEMENT_URL).host).toBe('rabbitmq:15672');
  });
});

// ================================================================== Kubernetes

describe('deploy/k8s', () => {
  const docs = manifestFiles.flatMap((f) => loadManifests(`${k8sDir}/${f}`).map((d): Obj => ({ ...d, __file: f })));
  const ofKind = (kind: string) => docs.filter((d) => d.kind === kind);
  const named = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata?.name === name);
  const configMap = named('ConfigMap', 'guitaronline-config') as Obj;
  const secretTemplate = loadManifests(`${k8sDir}/secret.example.yaml`)[0];
  const kustomization = loadYaml(`${k8sDir}/kustomization.yaml`);
  const shutdownMs = Number(configMap?.data?.SHUTDOWN_TIMEOUT_MS ?? 10_000);

  const podSpecs = () => [
    ...ofKind('Deployment').map((d) => ({ name: d.metadata.name as string, spec: d.spec.template.spec as Obj })),
    ...ofKind('Job').map((d) => ({ name: d.metadata.name as string, spec: d.spec.template.spec as Obj })),
  ];

  it('when kustomize builds it, then every manifest file is listed, the secret template is not, and all share one namespace', () => {
    expect([...kustomization.resources].sort()).toEqual(manifestFiles);
    expect(kustomization.resources).not.toContain('secret.example.yaml');
    expect(kustomization.namespace).toBe('guitaronline');
    expect(named('Namespace', 'guitaronline')).toBeDefined();
    for (const d of docs) if (d.metadata?.namespace) expect([d.__file, d.metadata.namespace]).toEqual([d.__file, 'guitaronline']);
    // no committed Secret among the resources: real secrets are created out of band
    expect(ofKind('Secret')).toEqual([]);
  });

  it('when every process is deployed, then each has a Deployment, a Service on its default port and a PodDisruptionBudget', () => {
    expect(ofKind('Deployment').map((d) => d.metadata.name).sort()).toEqual([...appNames].sort());
    for (const name of appNames) {
      const port = defaultPort(name);
      const container = named('Deployment', name)!.spec.template.spec.containers[0];
      expect([name, container.ports]).toEqual([name, [{ name: 'http', containerPort: port }]]);
      expect([name, container.env.find((e: Obj) => e.name === 'SERVICE')?.value]).toEqual([name, name]);
      const service = named('Service', name)!;
      expect([name, service.spec.ports]).toEqual([name, [{ name: 'http', port, targetPort: 'http' }]]);
      expect(service.spec.selector).toEqual({ 'app.kubernetes.io/name': name });
      const pdb = named('PodDisruptionBudget', name)!;
      expect([name, pdb.spec.selector.matchLabels]).toEqual([name, { 'app.kubernetes.io/name': name }]);
    }
  });

  it('when a pod runs, then it has /ready readiness, /health liveness and startup probes on its port, and resources', () => {
    for (const d of ofKind('Deployment')) {
      const name = d.metadata.name;
      const c = d.spec.template.spec.containers[0];
      expect([name, c.readinessProbe?.httpGet]).toEqual([name, { path: '/ready', port: 'http' }]);
      expect([name, c.livenessProbe?.httpGet]).toEqual([name, { path: '/health', port: 'http' }]);
      expect([name, c.startupProbe?.httpGet]).toEqual([name, { path: '/health', port: 'http' }]);
      for (const kind of ['requests', 'limits']) {
        expect([name, kind, Object.keys(c.resources?.[kind] ?? {}).sort()]).toEqual([name, kind, ['cpu', 'memory']]);
      }
    }
  });

  it('when a node is contended, then the trailing services (notifications, admin) request less CPU than the request path', () => {
    const millicores = (v: string) => (v.endsWith('m') ? Number(v.slice(0, -1)) : Number(v) * 1000);
    const requested = new Map(ofKind('Deployment').map((d) => [d.metadata.name, millicores(String(d.spec.template.spec.containers[0].resources.requests.cpu))]));
    for (const trailing of ['notifications', 'admin']) {
      for (const onPath of ['gateway', 'identity', 'booking', 'billing', 'lessons']) {
        expect([trailing, onPath, requested.get(trailing)! < requested.get(onPath)!]).toEqual([trailing, onPath, true]);
      }
    }
  });

  it('when a pod runs, then it is non-root, read-only, without privileges or a service-account token', () => {
    for (const { name, spec } of podSpecs()) {
      expect([name, spec.securityContext.runAsNonRoot]).toEqual([name, true]);
      expect(spec.securityContext.runAsUser).toBeGreaterThan(0);
      expect([name, spec.automountServiceAccountToken]).toEqual([name, false]);
      for (const c of spec.containers) {
        expect([name, c.securityContext]).toMatchObject([name, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } }]);
        expect(c.image).toBe('guitaronline');
      }
    }
    expect(kustomization.images).toEqual([expect.objectContaining({ name: 'guitaronline' })]);
  });

  it('when a pod is stopped, then the preStop sleep and the shutdown timeout both fit in the grace period', () => {
    for (const d of ofKind('Deployment')) {
      const spec = d.spec.template.spec;
      const command = spec.containers[0].lifecycle?.preStop?.exec?.command as string[];
      expect([d.metadata.name, command?.[0]]).toEqual([d.metadata.name, 'sleep']);
      const preStop = Number(command[1]);
      expect(spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(preStop + shutdownMs / 1000 + 5);
    }
  });

  it('when stateless processes scale, then each runs at least 2 replicas, the gateway under an autoscaler', () => {
    const hpas = ofKind('HorizontalPodAutoscaler');
    for (const d of ofKind('Deployment')) {
      const hpa = hpas.find((h) => h.spec.scaleTargetRef.kind === 'Deployment' && h.spec.scaleTargetRef.name === d.metadata.name);
      if (hpa) {
        expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
        expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
        expect([d.metadata.name, d.spec.replicas]).toEqual([d.metadata.name, undefined]); // the HPA owns it
      } else {
        expect([d.metadata.name, d.spec.replicas >= 2]).toEqual([d.metadata.name, true]);
      }
    }
    expect(hpas.map((h) => h.spec.scaleTargetRef.name)).toContain('gateway');
  });

  it('when the Ingress routes traffic, then it reaches only the gateway Service’s http port', () => {
    const ingresses = ofKind('Ingress');
    expect(ingresses).toHaveLength(1);
    const backends = ingresses[0].spec.rules.flatMap((r: Obj) => r.http.paths.map((p: Obj) => p.backend.service));
    expect(backends).toEqual([{ name: 'gateway', port: { name: 'http' } }]);
    expect(ingresses[0].spec.tls?.length).toBeGreaterThan(0);
  });

  it('when pods read config and secrets, then every referenced ConfigMap/Secret key exists', () => {
    const secretKeys = Object.keys(secretTemplate.stringData);
    for (const { name, spec } of podSpecs()) {
      for (const c of spec.containers) {
        for (const from of c.envFrom ?? []) expect([name, from.configMapRef?.name]).toEqual([name, 'guitaronline-config']);
        for (const e of c.env ?? []) {
          const secretRef = e.valueFrom?.secretKeyRef;
          const cmRef = e.valueFrom?.configMapKeyRef;
          if (secretRef) expect([name, secretRef.name, secretKeys.includes(secretRef.key) && secretRef.key]).toEqual([name, 'guitaronline-secrets', secretRef.key]);
          if (cmRef) expect([name, cmRef.name, cmRef.key in configMap.data]).toEqual([name, 'guitaronline-config', true]);
        }
      }
    }
  });

  it('when a process gets environment variables, then each name is one it reads (checked once its config.ts exists)', () => {
    for (const d of ofKind('Deployment')) {
      const reads = readsFor(d.metadata.name);
      if (!reads) continue;
      const names = d.spec.template.spec.containers[0].env.map((e: Obj) => e.name);
      expect([d.metadata.name, unknownNames(names, reads)]).toEqual([d.metadata.name, []]);
    }
    const job = ofKind('Job')[0];
    expect(unknownNames(job.spec.template.spec.containers[0].env.map((e: Obj) => e.name), provisionReads)).toEqual([]);
    // the shared ConfigMap: each key must be read by someone; strict once every config.ts exists
    const { keys, pending } = readsByAnyone();
    const unread = unknownNames(Object.keys(configMap.data), keys);
    if (pending.length === 0) expect(unread).toEqual([]);
    else for (const key of unread) expect([key, /^[A-Z][A-Z0-9_]+$/.test(key)]).toEqual([key, true]);
  });

  it('when provisioning runs, then the Job alone gets the owner’s DATABASE_URL and sets every service role’s password', () => {
    const jobs = ofKind('Job');
    expect(jobs.map((j) => j.metadata.name)).toEqual(['provision']);
    const c = jobs[0].spec.template.spec.containers[0];
    const env = Object.fromEntries(c.env.map((e: Obj) => [e.name, e]));
    expect(env.SERVICE.value).toBe('provision');
    expect(env.DATABASE_URL.valueFrom.secretKeyRef.key).toBe('PROVISION_DATABASE_URL');
    for (const s of serviceDirs) expect([s, env[`${s.toUpperCase()}_DB_ROLE_PASSWORD`]?.valueFrom?.secretKeyRef?.key]).toEqual([s, `${s.toUpperCase()}_DB_ROLE_PASSWORD`]);
    expect(c.envFrom).toBeUndefined();
    expect(jobs[0].spec.template.spec.restartPolicy).toBe('Never');
    // services: their own role password only, and a DATABASE_URL without credentials
    for (const name of serviceDirs) {
      const envs = named('Deployment', name)!.spec.template.spec.containers[0].env as Obj[];
      const pw = envs.find((e) => e.name === 'DB_ROLE_PASSWORD');
      expect([name, pw?.valueFrom?.secretKeyRef?.key]).toEqual([name, `${name.toUpperCase()}_DB_ROLE_PASSWORD`]);
      expect(envs.find((e) => e.name === 'DATABASE_URL')).toBeUndefined();
    }
    expect(new URL(configMap.data.DATABASE_URL).password).toBe('');
    expect(new URL(configMap.data.DATABASE_URL).username).toBe('');
  });

  it('when the ConfigMap is read, then it holds no secret: no password-like keys and no URL with credentials', () => {
    expect(configMap.data.APP_ENV).toBe('production');
    for (const [key, value] of Object.entries(configMap.data as Record<string, string>)) {
      expect([key, /PASSWORD|SECRET|PRIVATE|TOKEN/.test(key)]).toEqual([key, false]);
      if (/^[a-z]+:\/\//.test(value)) expect([key, new URL(value).password]).toEqual([key, '']);
    }
  });

  it('when the secret template is read, then every value is a placeholder that production refuses', () => {
    expect(secretTemplate.kind).toBe('Secret');
    expect(secretTemplate.data).toBeUndefined();
    for (const [key, value] of Object.entries(secretTemplate.stringData as Record<string, string>)) {
      if (key === 'BOOTSTRAP_ADMIN_EMAIL') {
        expect(value).toMatch(/@example\.com$/);
      } else if (/^[a-z]+:\/\//.test(value)) {
        expect([key, decodeURIComponent(new URL(value).password)]).toEqual([key, expect.stringMatching(/^change-me/)]);
      } else {
        expect([key, value, isPlaceholderSecret(value)]).toEqual([key, value, true]);
      }
    }
  });

  it('when anything under deploy/ or the compose file is committed, then it contains no private key', () => {
    const files: string[] = ['docker-compose.yml'];
    const walk = (rel: string) => {
      for (const entry of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
        const child = `${rel}/${entry.name}`;
        if (entry.isDirectory()) walk(child);
        else files.push(child);
      }
    };
    walk('deploy');
    for (const rel of files) expect([rel, /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(read(rel))]).toEqual([rel, false]);
  });
});

// ================================================================== RabbitMQ

describe('deploy/rabbitmq', () => {
  const conf = read('deploy/rabbitmq/rabbitmq.conf');
  const settings = Object.fromEntries(
    conf
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(/\s*=\s*/, 2)),
  );
  const definitions = JSON.parse(read('deploy/rabbitmq/definitions.json'));

  it('when the cluster forms, then it has three nodes, pauses the minority and defaults to quorum queues', () => {
    const nodes = Object.keys(settings).filter((k) => k.startsWith('cluster_formation.classic_config.nodes.'));
    expect(nodes).toHaveLength(3);
    expect(settings.cluster_partition_handling).toBe('pause_minority');
    expect(settings.default_queue_type).toBe('quorum');
    expect(settings['definitions.local.path']).toBe('/etc/rabbitmq/definitions.json');
  });

  it('when the definitions are imported, then the vhost defaults to quorum and the events exchange is the one the services use', () => {
    expect(definitions.vhosts).toEqual([expect.objectContaining({ name: '/', default_queue_type: 'quorum' })]);
    expect(definitions.exchanges).toEqual([expect.objectContaining({ name: DEFAULT_EXCHANGE, type: 'topic', durable: true, vhost: '/' })]);
    expect(definitions.users).toEqual([]); // credentials come from the secret store
  });

  it('when a retry queue dead-letters back, then the at-least-once policy matches the retry queues and nothing else', () => {
    const policy = definitions.policies.find((p: Obj) => p.name === 'events-retry-at-least-once');
    expect(policy.definition).toEqual({ 'dead-letter-strategy': 'at-least-once', overflow: 'reject-publish' });
    const pattern = new RegExp(policy.pattern);
    for (const service of serviceDirs) {
      const names = queueNames(service, DEFAULT_RETRY_DELAYS_MS.length);
      for (const retry of names.retries) expect([retry, pattern.test(retry)]).toEqual([retry, true]);
      expect(pattern.test(names.main)).toBe(false);
      expect(pattern.test(names.dlq)).toBe(false);
    }
  });
});

// ================================================================== Postgres backup / restore

const hasPgTools = ['pg_dump', 'pg_restore', 'psql'].every((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0);

(hasPgTools ? describe : describe.skip)('deploy/postgres backup.sh / restore.sh (against the test Postgres)', () => {
  const suffix = `${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const schema = `deploytest_${suffix}`;
  const role = `${schema}_svc`;
  const dbA = `deploytest_a_${suffix}`;
  const dbB = `deploytest_b_${suffix}`;
  const base = new URL(process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/guitaronline_test');
  const urlOf = (db: string) => Object.assign(new URL(base.toString()), { pathname: `/${db}` }).toString();
  let out: string;

  const psql = (db: string, sql: string) => {
    const r = spawnSync('psql', [urlOf(db), '-X', '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    return r.stdout.trim();
  };
  const script = (name: string, db: string, args: string[]) =>
    spawnSync('sh', [path.join(root, 'deploy/postgres', name), ...args], { env: { ...process.env, DATABASE_URL: urlOf(db) }, encoding: 'utf8' });

  beforeAll(() => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'pgbackup-'));
    psql('postgres', `create database ${dbA}`);
    psql('postgres', `create role ${role} nologin`);
    psql(dbA, `create schema ${schema} authorization ${role}`);
    psql(dbA, `set role ${role}; create table ${schema}.items (id int primary key, name text not null); insert into ${schema}.items values (1, 'one'), (2, 'two')`);
  });

  afterAll(() => {
    for (const db of [dbA, dbB]) psql('postgres', `drop database if exists ${db}`);
    psql('postgres', `drop role if exists ${role}`);
    fs.rmSync(out, { recursive: true, force: true });
  });

  const dumps = (pattern: RegExp) => fs.readdirSync(out).filter((f) => pattern.test(f));

  it('when a schema is damaged, then a --schema restore puts it back as it was, in one transaction, only with --yes', () => {
    const backup = script('backup.sh', dbA, ['--out', out, '--schema', schema]);
    expect(backup.stderr).toBe('');
    expect(backup.status).toBe(0);
    const [file] = dumps(new RegExp(`^${dbA}-${schema}-.*\\.dump$`));
    expect(fs.existsSync(path.join(out, `${file}.sha256`))).toBe(true);

    psql(dbA, `delete from ${schema}.items where id = 1; create table ${schema}.stray (x int)`);
    const refused = script('restore.sh', dbA, ['--schema', schema, path.join(out, file)]);
    expect(refused.status).toBe(64);
    expect(psql(dbA, `select count(*) from ${schema}.items`)).toBe('1');

    const restored = script('restore.sh', dbA, ['--yes', '--schema', schema, path.join(out, file)]);
    expect(restored.status).toBe(0);
    expect(psql(dbA, `select string_agg(id || ':' || name, ',' order by id) from ${schema}.items`)).toBe('1:one,2:two');
    expect(psql(dbA, `select to_regclass('${schema}.stray') is null`)).toBe('t');
    expect(psql(dbA, `select nspowner::regrole from pg_namespace where nspname = '${schema}'`)).toBe(role);
    expect(psql(dbA, `select tableowner from pg_tables where schemaname = '${schema}'`)).toBe(role);
  });

  it('when a dump is corrupted, then restore refuses it by its checksum and changes nothing', () => {
    const own = fs.mkdtempSync(path.join(out, 'corrupt-'));
    expect(script('backup.sh', dbA, ['--out', own, '--schema', schema]).status).toBe(0);
    const [file] = fs.readdirSync(own).filter((f) => f.endsWith('.dump'));
    psql(dbA, `insert into ${schema}.items values (3, 'three')`);
    fs.appendFileSync(path.join(own, file), 'garbage');
    const r = script('restore.sh', dbA, ['--yes', '--schema', schema, path.join(own, file)]);
    expect(r.stderr).toMatch(/checksum mismatch/);
    expect(r.status).toBe(65);
    expect(psql(dbA, `select count(*) from ${schema}.items where id = 3`)).toBe('1');
  });

  it('when the whole database is lost, then a full dump restores into an empty database with owners (roles re-created), never into a used one', () => {
    const rowsBefore = psql(dbA, `select string_agg(id || ':' || name, ',' order by id) from ${schema}.items`);
    const backup = script('backup.sh', dbA, ['--out', out]);
    expect(backup.status).toBe(0);
    const [file] = dumps(new RegExp(`^${dbA}-\\d{8}T\\d{6}Z\\.dump$`));

    const intoUsed = script('restore.sh', dbA, [path.join(out, file)]);
    expect(intoUsed.status).toBe(65);
    expect(intoUsed.stderr).toMatch(/empty database/);

    // lose everything, including the cluster-wide role
    psql('postgres', `drop database ${dbA}`);
    psql('postgres', `drop role ${role}`);
    psql('postgres', `create database ${dbB}`);
    const restored = script('restore.sh', dbB, [path.join(out, file)]);
    expect(restored.stderr).toBe('');
    expect(restored.status).toBe(0);
    expect(psql(dbB, `select string_agg(id || ':' || name, ',' order by id) from ${schema}.items`)).toBe(rowsBefore);
    expect(psql(dbB, `select tableowner from pg_tables where schemaname = '${schema}'`)).toBe(role);
  });
});
