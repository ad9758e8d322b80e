import { expect } from 'vitest';
import type { JsonResponse } from './app.js';

/**
 * Asserts an RFC 9457 problem response: status, `application/problem+json`, the stable `code`
 * and the members every problem carries. Returns the parsed body for further checks.
 */
export function expectProblem(response: JsonResponse, status: number, code: string): Record<string, any> {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(response.data).toMatchObject({ status, code, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
  return response.data;
}

/** Asserts a 400 validation_failed that names `field` with `code`; returns that field error. */
export function expectFieldError(response: JsonResponse, field: string, code: string): { field: string; code: string; message: string } {
  const body = expectProblem(response, 400, 'validation_failed');
  const match = (body.errors as { field: string; code: string; message: string }[]).find((e) => e.field === field && e.code === code);
  expect(match, `no ${code} on ${field} in ${JSON.stringify(body.errors)}`).toBeDefined();
  expect(match!.message).toEqual(expect.any(String));
  return match!;
}
