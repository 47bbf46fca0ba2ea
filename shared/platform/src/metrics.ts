import client, { Registry } from 'prom-client';

export { client as prom, Registry };

/** A registry per service, with the default process metrics and the service label. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  client.collectDefaultMetrics({ register: registry });
  return registry;
}
