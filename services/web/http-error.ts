/**
 * Errors the API answers with: a status, a stable code the browser translates, and field errors
 * for forms. Store errors map onto them here, once, so no route formats an error by hand.
 */
import type { ErrorRequestHandler } from 'express';
import type { Logger } from 'pino';
import { StoreError } from '../store/types.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields?: Record<string, string>,
  ) {
    super(message);
  }
}

export interface ErrorBody {
  error: { code: string; message: string; fields?: Record<string, string> };
}

export const notFound = (what: string): HttpError => new HttpError(404, 'not-found', `${what} does not exist`);

const STORE_STATUS = { conflict: 409, invalid: 400, 'not-found': 404, schema: 500 } as const;

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    let status = 500;
    let body: ErrorBody = { error: { code: 'internal', message: 'internal error' } };
    if (error instanceof HttpError) {
      status = error.status;
      body = { error: { code: error.code, message: error.message, ...(error.fields ? { fields: error.fields } : {}) } };
    } else if (error instanceof StoreError) {
      status = STORE_STATUS[error.code];
      body = { error: { code: error.code, message: error.message } };
    } else if (typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'EBADCSRFTOKEN') {
      status = 403;
      body = { error: { code: 'csrf', message: 'missing or stale CSRF token: reload the page' } };
    } else if (typeof error === 'object' && error !== null && 'type' in error && (error as { type: unknown }).type === 'entity.parse.failed') {
      status = 400;
      body = { error: { code: 'bad-json', message: 'the request body is not valid JSON' } };
    } else if (typeof error === 'object' && error !== null && 'type' in error && (error as { type: unknown }).type === 'entity.too.large') {
      status = 413;
      body = { error: { code: 'too-large', message: 'the request body is too large' } };
    }
    if (status >= 500) log.error({ err: error, method: req.method, path: req.path }, 'web request failed');
    res.status(status).json(body);
  };
}
