/** The REST API as the pages use it: JSON both ways, the CSRF token on every change, typed errors. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: Record<string, string> = {},
    readonly body: unknown = null,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export async function api<T>(method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken !== null) headers['x-csrf-token'] = csrfToken;
  const response = await fetch(`/api${path}`, { method, headers, credentials: 'same-origin', ...(body !== undefined && { body: JSON.stringify(body) }) });
  const text = await response.text();
  let data: unknown = null;
  try {
    data = text === '' ? null : JSON.parse(text);
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = (data as { error?: { code?: string; message?: string; fields?: Record<string, string> } } | null)?.error;
    throw new ApiError(response.status, error?.code ?? 'http', error?.message ?? response.statusText, error?.fields ?? {}, data);
  }
  return data as T;
}

/**
 * Sends a file as the request body with its name and, for files that fit in memory, its SHA-256 (the
 * box refuses a file that arrives different). The answer is JSON, errors as `api()`'s.
 */
export async function upload<T>(path: string, file: File): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', 'content-type': 'application/octet-stream', 'x-file-name': encodeURIComponent(file.name) };
  if (csrfToken !== null) headers['x-csrf-token'] = csrfToken;
  if (file.size <= 64 * 1024 * 1024 && globalThis.crypto?.subtle !== undefined) {
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
    headers['x-content-sha256'] = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  }
  const response = await fetch(`/api${path}`, { method: 'POST', headers, credentials: 'same-origin', body: file });
  let data: unknown = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = (data as { error?: { code?: string; message?: string; fields?: Record<string, string> } } | null)?.error;
    throw new ApiError(response.status, error?.code ?? 'http', error?.message ?? response.statusText, error?.fields ?? {}, data);
  }
  return data as T;
}
