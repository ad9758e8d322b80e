import { readFile } from 'node:fs/promises';
import { validate } from '@readme/openapi-parser';
import { describe, expect, it } from 'vitest';

const document = async () => JSON.parse(await readFile(new URL('../../openapi/openapi.json', import.meta.url), 'utf8'));
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

describe('the committed OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await validate(await document());
    expect(result.valid, JSON.stringify(result, null, 2)).toBe(true);
  });

  it('gives every operation a unique operationId, a summary and a tag', async () => {
    const doc = await document();
    const ids: string[] = [];
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const method of METHODS) {
        const op = item[method];
        if (!op) continue;
        expect(op.operationId, `${method} ${path}`).toMatch(/^[a-z][A-Za-z]+$/);
        expect(op.summary, `${method} ${path}`).toBeTruthy();
        expect(op.tags?.length, `${method} ${path}`).toBeGreaterThan(0);
        ids.push(op.operationId);
      }
    }
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ['createSession', 'getSession', 'listSessions', 'closeSession', 'reopenSession', 'sendMessage', 'listMessages']) {
      expect(ids).toContain(id);
    }
  });

  it('describes every error response with the one shared problem schema', async () => {
    const doc = await document();
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const method of METHODS) {
        for (const [status, response] of Object.entries<any>(item[method]?.responses ?? {})) {
          if (Number(status) < 400) continue;
          const media = response.content?.['application/problem+json'];
          expect(media?.schema?.$ref, `${method} ${path} ${status}`).toBe('#/components/schemas/Problem');
        }
      }
    }
  });

  it('declares bearer security, the Idempotency-Key header and examples for POST /sessions', async () => {
    const doc = await document();
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    const create = doc.paths['/sessions'].post;
    expect(create.parameters.find((p: any) => p.in === 'header' && p.name === 'idempotency-key')).toBeDefined();
    expect(Object.keys(create.requestBody.content['application/json'].examples).sort()).toEqual(['email', 'telegram', 'whatsapp']);
    const conflict = create.responses['409'].content['application/problem+json'];
    expect(conflict.examples.session_already_open.value.existingSessionId).toBeDefined();
    expect(doc.paths['/healthz'].get.security).toEqual([]);
  });

  it('bounds every array a request can carry (maxItems), so no input is unbounded but by the body limit', async () => {
    const doc = await document();
    const unbounded: string[] = [];
    const walk = (schema: any, where: string, seen: Set<unknown>): void => {
      if (!schema || typeof schema !== 'object' || seen.has(schema)) return;
      seen.add(schema);
      if (typeof schema.$ref === 'string') return walk(doc.components.schemas[schema.$ref.split('/').pop()], where, seen);
      if ((schema.type === 'array' || schema.items) && schema.maxItems === undefined) unbounded.push(where);
      if (schema.items) walk(schema.items, `${where}/items`, seen);
      for (const [name, property] of Object.entries<any>(schema.properties ?? {})) walk(property, `${where}/${name}`, seen);
      for (const key of ['oneOf', 'anyOf', 'allOf'] as const) for (const [i, branch] of (schema[key] ?? []).entries()) walk(branch, `${where}/${key}/${i}`, seen);
      if (typeof schema.additionalProperties === 'object') walk(schema.additionalProperties, `${where}/*`, seen);
    };
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const method of METHODS) {
        const op = item[method];
        if (!op) continue;
        for (const [type, content] of Object.entries<any>(op.requestBody?.content ?? {})) walk(content.schema, `${method} ${path} body (${type})`, new Set());
        for (const parameter of op.parameters ?? []) walk(parameter.schema, `${method} ${path} ${parameter.in} ${parameter.name}`, new Set());
      }
    }
    expect(unbounded).toEqual([]);
  });
});
