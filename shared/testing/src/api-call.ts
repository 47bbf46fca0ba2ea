export interface ApiCallOptions {
  token?: string;
  /** Sent as JSON; a string is sent as it is (e.g. malformed JSON). */
  body?: unknown;
  /** Win over the defaults above (e.g. another content-type). */
  headers?: Record<string, string>;
}

export interface ApiResponse {
  status: number;
  /** The parsed JSON, the text when it is not JSON, undefined when empty. */
  body: any;
  headers: Headers;
}

/** One HTTP call as a client makes it: an optional bearer token and JSON body. */
export async function apiCall(baseUrl: string, method: string, path: string, options: ApiCallOptions = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = {
    ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
    ...options.headers,
  };
  const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: the text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}
