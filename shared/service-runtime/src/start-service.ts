import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { generateOpenApiDocument } from '@guitaronline/contracts';
import { createMessaging, type EventHandlers, type Messaging, type MessagingOptions } from '@guitaronline/messaging';
import {
  answerClientError,
  closeServer,
  createAuth,
  createHttpApp,
  createLogger,
  createMetricsRegistry,
  createServiceDb,
  registerPreparedStatementMetrics,
  finishApp,
  jwksKeyResolver,
  type Auth,
  type KeyResolver,
  type Knex,
  type Logger,
  type Registry,
  type ServiceDbOptions,
  type Stoppable,
} from '@guitaronline/platform';

/** The variables startService reads: `baseEnvShape` plus the HOST and PORT every service declares. */
export interface RuntimeConfig {
  LOG_LEVEL: string;
  DATABASE_URL: string;
  DB_ROLE_PASSWORD?: string;
  DB_PREPARED_STATEMENTS?: number;
  AMQP_URL: string;
  EVENTS_EXCHANGE: string;
  EVENTS_QUEUE_PREFIX: string;
  IDENTITY_URL: string;
  OUTBOX_RETENTION_HOURS: number;
  INBOX_RETENTION_HOURS: number;
  /** false: the consumer leaves the fast paths it is given aside (rolling updates; baseEnvShape). */
  CONSUMER_FAST_PATHS?: boolean;
  HOST: string;
  PORT: number;
}

export type HttpApp = ReturnType<typeof createHttpApp>;
export type OpenApiDocument = ReturnType<typeof generateOpenApiDocument>;

/** Broker tuning a service may set beyond what its config already gives every service. */
export type MessagingTuning = Pick<MessagingOptions, 'retryDelaysMs' | 'maxAttempts' | 'prefetch' | 'relayBatchSize' | 'relayPollIntervalMs'>;

/** What a service's composition root builds on: its config and the infrastructure made for it. */
export interface ServiceContext<C> {
  config: C;
  logger: Logger;
  metrics: Registry;
  db: Knex;
  /**
   * Registers the cleanup of a resource the service made (an SMTP transport, breakers): it runs
   * at stop(), or when the start fails, once messaging has stopped; the last registered first.
   */
  onStop(cleanup: () => unknown): void;
}

/** The service's own parts, which startService wires between the shared ones. */
export interface ServiceParts<X extends object> {
  /** Where access-token keys come from; by default identity's JWKS at `${IDENTITY_URL}/.well-known/jwks.json`. */
  resolveKey?: KeyResolver;
  /** The inbox consumer's handlers; without any, only the outbox relay runs. */
  handlers?: EventHandlers;
  /**
   * How the consumer handles them: one booking's events at a time (`serializeBy`), many small
   * writes per transaction (`batch`, `batchLingerMs`, `handleBatch`), which types are bound
   * (`bindings`); see ConsumerOptions.
   */
  consumer?: MessagingOptions['consumer'];
  /** Mounts the service's routes after /health, /ready and /metrics and before the 404 and error handler. */
  routes(app: HttpApp, wiring: { auth: Auth; messaging: Messaging }): void;
  /**
   * Starters of background jobs, called once the service listens. At stop() the jobs stop
   * (the last started first) after the consumer and before the relay drains, so events they
   * record are still published.
   */
  background?: (() => Stoppable)[];
  /** The service's own fields of the running handle (hooks its tests use). */
  handle?: X;
}

export interface StartServiceOptions<C extends RuntimeConfig, X extends object> {
  /** The service's name: its logger, metrics label, database schema and role, queues. */
  name: string;
  config: C;
  /** Connection pool of the service's database (default: knex's min 0, max 10). */
  pool?: ServiceDbOptions['pool'];
  messaging?: MessagingTuning;
  /** Served as GET /openapi.json; built once at start. */
  openapi: () => OpenApiDocument;
  /** Builds the service's own parts; anything it throws stops the start, cleaned up. */
  compose(context: ServiceContext<C>): ServiceParts<X> | Promise<ServiceParts<X>>;
}

export interface RunningService<C> {
  url: string;
  port: number;
  config: C;
  db: Knex;
  messaging: Messaging;
  logger: Logger;
  metrics: Registry;
  /** Stops HTTP, the consumer, background jobs, the relay, the service's resources and the pool; once. */
  stop(): Promise<void>;
}

/** The consumer's options with its fast paths left aside: every event takes its handler. */
function withoutFastPaths(consumer: ServiceParts<object>['consumer']): ServiceParts<object>['consumer'] {
  if (!consumer) return consumer;
  const { fastPaths: _leftAside, ...rest } = consumer;
  return rest;
}

/**
 * Starts a service: logger, metrics, database, messaging, auth, the HTTP app with postgres and
 * rabbitmq readiness, the service's routes, /openapi.json; then connects to the broker, listens
 * on HOST:PORT and starts the background jobs. A start that fails anywhere undoes what it did,
 * the same way stop() does, and rethrows.
 */
export async function startService<C extends RuntimeConfig, X extends object = Record<never, never>>(
  options: StartServiceOptions<C, X>,
): Promise<RunningService<C> & X> {
  const { name, config } = options;
  const logger = createLogger(name, { level: config.LOG_LEVEL });
  const metrics = createMetricsRegistry(name);
  const db = createServiceDb({
    databaseUrl: config.DATABASE_URL,
    schema: name,
    rolePassword: config.DB_ROLE_PASSWORD,
    pool: options.pool,
    preparedStatements: config.DB_PREPARED_STATEMENTS,
  });
  registerPreparedStatementMetrics(db, metrics);

  let server: Server | undefined;
  let messaging: Messaging | undefined;
  const jobs: Stoppable[] = [];
  const cleanups: (() => unknown)[] = [];

  // Every step runs even when an earlier one fails, so nothing is left open; the first failure is rethrown.
  const shutdown = async () => {
    const failures: unknown[] = [];
    const step = async (what: () => unknown) => {
      try {
        await what();
      } catch (err) {
        failures.push(err);
      }
    };
    if (server) await step(() => closeServer(server!));
    // no new events while the jobs finish; what they record is published when the relay drains
    await step(() => messaging?.consumer?.stop());
    for (const job of jobs.reverse()) await step(() => job.stop());
    await step(() => messaging?.stop());
    for (const cleanup of cleanups.reverse()) await step(cleanup);
    await step(() => db.destroy());
    if (failures.length > 0) throw failures[0];
  };

  try {
    const parts = await options.compose({ config, logger, metrics, db, onStop: (cleanup) => cleanups.push(cleanup) });
    const broker = createMessaging({
      service: name,
      knex: db,
      amqpUrl: config.AMQP_URL,
      exchange: config.EVENTS_EXCHANGE,
      queuePrefix: config.EVENTS_QUEUE_PREFIX,
      logger,
      metrics,
      handlers: parts.handlers,
      consumer: config.CONSUMER_FAST_PATHS === false ? withoutFastPaths(parts.consumer) : parts.consumer,
      outboxRetentionHours: config.OUTBOX_RETENTION_HOURS,
      inboxRetentionHours: config.INBOX_RETENTION_HOURS,
      ...options.messaging,
    });
    messaging = broker;
    const auth = createAuth(parts.resolveKey ?? jwksKeyResolver(`${config.IDENTITY_URL}/.well-known/jwks.json`));

    const app = createHttpApp({
      service: name,
      logger,
      metrics,
      readiness: [
        { name: 'postgres', check: () => db.raw('select 1') },
        { name: 'rabbitmq', check: broker.ready },
      ],
    });
    parts.routes(app, { auth, messaging: broker });
    const openapi = options.openapi();
    app.get('/openapi.json', (_req, res) => {
      res.json(openapi);
    });
    finishApp(app, logger);

    await broker.start();
    const httpServer = createServer(app);
    httpServer.on('clientError', answerClientError);
    server = await listen(httpServer, config.PORT, config.HOST);
    for (const startJob of parts.background ?? []) jobs.push(startJob());

    const { port } = server.address() as AddressInfo;
    logger.info({ port }, `${name} listening`);
    let stopped: Promise<void> | undefined;
    const running: RunningService<C> = {
      url: `http://${reachableHost(config.HOST)}:${port}`,
      port,
      config,
      db,
      messaging: broker,
      logger,
      metrics,
      stop: () => (stopped ??= shutdown()),
    };
    return { ...(parts.handle as X), ...running };
  } catch (err) {
    await shutdown().catch((cleanupErr: unknown) => logger.warn({ err: cleanupErr }, 'cleanup after a failed start failed'));
    throw err;
  }
}

function listen(server: Server, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** The host a client on this machine dials: a wildcard address means loopback. */
function reachableHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
