/** The parts of an OpenAPI 3.x document the merge touches; everything else is carried as is. */
export interface OpenApiDocument {
  openapi?: string;
  info?: Record<string, unknown>;
  paths?: Record<string, Record<string, unknown>>;
  components?: Record<string, Record<string, unknown>>;
  tags?: Array<{ name: string; [key: string]: unknown }>;
  [key: string]: unknown;
}

export interface ServiceDocument {
  service: string;
  document: OpenApiDocument;
}

export interface MergeOptions {
  title: string;
  version: string;
  description?: string;
  /** Services whose document could not be fetched: listed in `x-missing-services`. */
  missing: string[];
  /** Paths the gateway answers itself. */
  ownPaths?: Record<string, Record<string, unknown>>;
  /** Only paths the gateway routes belong in the public document (not a service's /internal/*). */
  isPublicPath?: (path: string) => boolean;
}

function rewriteRefs(node: unknown, renames: Map<string, string>): unknown {
  if (Array.isArray(node)) return node.map((item) => rewriteRefs(item, renames));
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] = key === '$ref' && typeof value === 'string' && renames.has(value) ? renames.get(value) : rewriteRefs(value, renames);
  }
  return out;
}

/**
 * One document from the services' documents: paths and components are merged; a component
 * name two services define differently is renamed `<service>_<name>` in the later one (and
 * its `$ref`s follow), identical ones are kept once. A path+method two services both claim
 * keeps the first (in gateway routing order) and is listed in `x-path-conflicts`.
 */
export function mergeOpenApi(documents: ServiceDocument[], options: MergeOptions): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = { ...(options.ownPaths ?? {}) };
  const components: Record<string, Record<string, unknown>> = {};
  const tags = new Map<string, { name: string; [key: string]: unknown }>();
  const conflicts: string[] = [];

  for (const { service, document } of documents) {
    const renames = new Map<string, string>();
    for (const [section, entries] of Object.entries(document.components ?? {})) {
      for (const [name, value] of Object.entries(entries ?? {})) {
        const existing = components[section]?.[name];
        if (existing !== undefined && JSON.stringify(existing) !== JSON.stringify(value)) {
          renames.set(`#/components/${section}/${name}`, `#/components/${section}/${service}_${name}`);
        }
      }
    }
    const doc = (renames.size > 0 ? rewriteRefs(document, renames) : document) as OpenApiDocument;
    for (const [section, entries] of Object.entries(doc.components ?? {})) {
      const target = (components[section] ??= {});
      for (const [name, value] of Object.entries(entries ?? {})) {
        const finalName = renames.has(`#/components/${section}/${name}`) ? `${service}_${name}` : name;
        if (target[finalName] === undefined) target[finalName] = value;
      }
    }
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      if (options.isPublicPath && !options.isPublicPath(path)) continue;
      const merged = (paths[path] ??= {});
      for (const [method, operation] of Object.entries(item ?? {})) {
        if (merged[method] === undefined) merged[method] = operation;
        else conflicts.push(`${method.toUpperCase()} ${path} (${service})`);
      }
    }
    for (const tag of doc.tags ?? []) if (!tags.has(tag.name)) tags.set(tag.name, tag);
  }

  const merged: OpenApiDocument = {
    openapi: '3.1.0',
    info: { title: options.title, version: options.version, ...(options.description ? { description: options.description } : {}) },
    servers: [{ url: '/' }],
    paths,
    components,
    'x-missing-services': options.missing,
  };
  if (tags.size > 0) merged.tags = [...tags.values()];
  if (conflicts.length > 0) merged['x-path-conflicts'] = conflicts;
  return merged;
}
