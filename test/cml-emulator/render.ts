// Answers shaped by the swagger: an emulator record rendered as a definition, the way the API's proto3 JSON looks.
import type { SwaggerDocument, SwaggerSchema } from './swagger.js';

/**
 * Every property of the definition, taken from `source`, in its wire form: int64 as a decimal string, a map held
 * where the swagger says string (`environment`) as its JSON text, scalars left out of `source` as their zero value
 * (as grpc-gateway emits defaults). Timestamps and nested messages that are absent are left out, as is anything
 * `source` sets to null. Fields `source` has beyond the definition (the emulator's own) never show.
 */
export function renderDefinition(document: SwaggerDocument, name: string, source: Record<string, unknown>): Record<string, unknown> {
  const definition = document.definitions[name];
  if (definition === undefined) throw new Error(`the swagger has no definition ${name}`);
  const rendered: Record<string, unknown> = {};
  for (const [property, schema] of Object.entries(definition.properties ?? {})) {
    const value = renderValue(document, schema, source[property]);
    if (value !== undefined) rendered[property] = value;
  }
  return rendered;
}

function renderValue(document: SwaggerDocument, schema: SwaggerSchema, value: unknown): unknown {
  if (value === null) return undefined;
  if (schema.$ref !== undefined) {
    const name = schema.$ref.replace('#/definitions/', '');
    const definition = document.definitions[name];
    if (definition?.enum !== undefined) return value ?? definition.enum[0];
    return value === undefined ? undefined : renderDefinition(document, name, value as Record<string, unknown>);
  }
  switch (schema.type) {
    case 'string':
      if (schema.format === 'date-time') return value === undefined ? undefined : String(value);
      if (schema.format === 'int64' || schema.format === 'uint64') return String(value ?? 0);
      if (typeof value === 'object') return JSON.stringify(value);
      return String(value ?? '');
    case 'integer':
      return schema.format === 'int64' ? String(value ?? 0) : Number(value ?? 0);
    case 'number':
      return Number(value ?? 0);
    case 'boolean':
      return Boolean(value ?? false);
    case 'array':
      return ((value as unknown[] | undefined) ?? []).map((item) => (schema.items === undefined ? item : renderValue(document, schema.items, item)));
    default:
      return value;
  }
}
