// Checks requests (and the emulator's own answers) against the swagger, generically: whatever the operation,
// its declared query parameters, body definition and content types decide, never a rule written per endpoint.
import type { Route, SwaggerDocument, SwaggerParameter, SwaggerSchema } from './swagger.js';

/**
 * `request`: what grpc-gateway's JSON decoding accepts (protojson: numbers may come quoted, int64 as number or
 * string, an enum by name or number, null for "unset"). `response`: the canonical proto3 JSON the API sends
 * (int64 always a string, int32 a number, timestamps RFC 3339).
 */
export type Direction = 'request' | 'response';

export interface IncomingRequest {
  query: URLSearchParams;
  contentType: string | undefined;
  /** The raw body; empty when none was sent. */
  body: Buffer;
}

export interface CheckedRequest {
  violations: string[];
  /** The JSON body, parsed, when the operation takes one. */
  json: unknown;
}

const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };
const INTEGER_TEXT = /^-?\d+$/;
const NUMBER_TEXT = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
/** RFC 3339 as protojson writes and reads google.protobuf.Timestamp. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
/** strconv.ParseBool, which grpc-gateway uses for boolean query parameters. */
const BOOLEAN_TEXT = new Set(['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False']);

export class SwaggerValidator {
  constructor(private readonly document: SwaggerDocument) {}

  /** Every way the request departs from its operation; the body is parsed along the way. */
  checkRequest(route: Route, request: IncomingRequest): CheckedRequest {
    const parameters = route.operation.parameters ?? [];
    const violations = this.checkQuery(route, parameters, request.query);
    const bodyParameter = parameters.find((parameter) => parameter.in === 'body');
    const formParameters = parameters.filter((parameter) => parameter.in === 'formData');
    let json: unknown;
    if (formParameters.length > 0) {
      violations.push(...this.checkFormContentType(route, request.contentType));
    } else if (bodyParameter?.schema !== undefined) {
      const parsed = parseJsonBody(request.body);
      if ('error' in parsed) violations.push(parsed.error);
      else if (parsed.value === undefined && bodyParameter.required === true) violations.push('the request has no body, but this operation needs one');
      else {
        json = parsed.value;
        const where = bodyParameter.schema.$ref === undefined ? 'body' : definitionName(bodyParameter.schema);
        violations.push(...this.checkValue(bodyParameter.schema, json, where, 'request'));
      }
    } else if (request.body.length > 0) {
      violations.push(`${route.operation.operationId} takes no request body`);
    }
    return { violations, json };
  }

  /** Whether an answer of the operation matches its 200 schema (the emulator checks itself with this). */
  checkResponse(route: Route, body: unknown): string[] {
    const schema = route.operation.responses['200']?.schema;
    return schema === undefined ? [] : this.checkValue(schema, body, schema.$ref === undefined ? 'response' : definitionName(schema), 'response');
  }

  /**
   * The violations of `value` against `schema`. `where` is the field path for messages; `typeName` the definition
   * being checked, which names the message in "unknown field" errors as grpc-gateway does.
   */
  checkValue(schema: SwaggerSchema, value: unknown, where: string, direction: Direction, typeName?: string): string[] {
    if (schema.$ref !== undefined) {
      const name = definitionName(schema);
      const definition = this.document.definitions[name];
      if (definition === undefined) return [`the swagger has no definition ${name}`];
      return this.checkValue(definition, value, where, direction, name);
    }
    // protojson reads null as "leave unset"; the API never sends it.
    if (value === null) return direction === 'request' ? [] : [`${where} is null`];
    const type = schema.type ?? (schema.properties !== undefined ? 'object' : undefined);
    switch (type) {
      case 'object':
        return this.checkObject(schema, value, where, direction, typeName ?? where);
      case 'array':
        if (!Array.isArray(value)) return [mistyped(where, 'a list', value)];
        return value.flatMap((item, index) => (schema.items === undefined ? [] : this.checkValue(schema.items, item, `${where}[${index}]`, direction)));
      case 'string':
        return checkString(schema, value, where, direction);
      case 'integer':
        return checkInteger(schema, value, where, direction);
      case 'number':
        return checkNumber(value, where, direction);
      case 'boolean':
        return typeof value === 'boolean' ? [] : [mistyped(where, 'true or false', value)];
      default:
        return [];
    }
  }

  private checkObject(schema: SwaggerSchema, value: unknown, where: string, direction: Direction, typeName: string): string[] {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return [mistyped(where, 'an object', value)];
    const violations: string[] = [];
    for (const [name, inner] of Object.entries(value)) {
      const property = schema.properties?.[name];
      if (property !== undefined) violations.push(...this.checkValue(property, inner, `${where}.${name}`, direction));
      else if (typeof schema.additionalProperties === 'object') violations.push(...this.checkValue(schema.additionalProperties, inner, `${where}[${JSON.stringify(name)}]`, direction));
      else violations.push(`unknown field ${JSON.stringify(name)} in ${typeName}`);
    }
    return violations;
  }

  private checkQuery(route: Route, parameters: SwaggerParameter[], query: URLSearchParams): string[] {
    const violations: string[] = [];
    const declared = new Map(parameters.filter((parameter) => parameter.in === 'query').map((parameter) => [parameter.name, parameter]));
    for (const name of new Set(query.keys())) {
      const parameter = declared.get(name);
      if (parameter === undefined) {
        violations.push(`unknown query parameter ${JSON.stringify(name)} for ${route.operation.operationId}`);
        continue;
      }
      const values = query.getAll(name);
      if (parameter.type !== 'array' && values.length > 1) violations.push(`query parameter ${JSON.stringify(name)} given ${values.length} times`);
      for (const text of values) violations.push(...checkQueryText(parameter, text));
    }
    for (const parameter of declared.values()) {
      if (parameter.required === true && !query.has(parameter.name)) violations.push(`query parameter ${JSON.stringify(parameter.name)} is required`);
    }
    return violations;
  }

  private checkFormContentType(route: Route, contentType: string | undefined): string[] {
    const accepted = route.operation.consumes ?? this.document.consumes ?? [];
    const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
    return mediaType !== undefined && accepted.includes(mediaType) ? [] : [`${route.operation.operationId} takes ${accepted.join(' or ')}, not ${mediaType ?? 'no content type'}`];
  }
}

function parseJsonBody(body: Buffer): { value: unknown } | { error: string } {
  const text = body.toString('utf8');
  if (text.trim() === '') return { value: undefined };
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (error) {
    return { error: `the body is not JSON: ${(error as Error).message}` };
  }
}

function definitionName(schema: SwaggerSchema): string {
  return (schema.$ref ?? '').replace('#/definitions/', '');
}

function checkQueryText(parameter: SwaggerParameter, text: string): string[] {
  const where = `query parameter ${JSON.stringify(parameter.name)}`;
  if (parameter.type === 'integer' || parameter.format === 'int64') {
    if (!INTEGER_TEXT.test(text)) return [`${where} must be an integer, not ${JSON.stringify(text)}`];
    if (parameter.format === 'int32' && (Number(text) < INT32.min || Number(text) > INT32.max)) return [`${where} is out of the int32 range`];
  }
  if (parameter.type === 'boolean' && !BOOLEAN_TEXT.has(text)) return [`${where} must be true or false, not ${JSON.stringify(text)}`];
  return [];
}

function checkString(schema: SwaggerSchema, value: unknown, where: string, direction: Direction): string[] {
  if (schema.format === 'int64' || schema.format === 'uint64') {
    if (typeof value === 'string' && INTEGER_TEXT.test(value)) return [];
    if (direction === 'request' && typeof value === 'number' && Number.isInteger(value)) return [];
    return [mistyped(where, direction === 'response' ? 'an int64 as a decimal string' : 'an int64', value)];
  }
  if (schema.enum !== undefined) {
    if (typeof value === 'string' && schema.enum.includes(value)) return [];
    if (direction === 'request' && typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < schema.enum.length) return [];
    return [`${where} must be one of ${schema.enum.join(', ')}, not ${JSON.stringify(value)}`];
  }
  if (typeof value !== 'string') return [mistyped(where, 'a string', value)];
  if (schema.format === 'date-time' && !RFC3339.test(value)) return [`${where} is not an RFC 3339 timestamp: ${JSON.stringify(value)}`];
  if (schema.format === 'byte' && !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) return [`${where} is not base64: ${JSON.stringify(value)}`];
  return [];
}

function checkInteger(schema: SwaggerSchema, value: unknown, where: string, direction: Direction): string[] {
  const quoted = direction === 'request' && typeof value === 'string' && INTEGER_TEXT.test(value);
  if (schema.format === 'int64' && direction === 'response') {
    return typeof value === 'string' && INTEGER_TEXT.test(value) ? [] : [mistyped(where, 'an int64 as a decimal string', value)];
  }
  const number = quoted ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number)) return [mistyped(where, 'an integer', value)];
  if (schema.format === 'int32' && (number < INT32.min || number > INT32.max)) return [`${where} is out of the int32 range: ${number}`];
  return [];
}

function checkNumber(value: unknown, where: string, direction: Direction): string[] {
  if (typeof value === 'number') return [];
  if (direction === 'request' && typeof value === 'string' && (NUMBER_TEXT.test(value) || ['NaN', 'Infinity', '-Infinity'].includes(value))) return [];
  return [mistyped(where, 'a number', value)];
}

function mistyped(where: string, expected: string, value: unknown): string {
  const kind = value === null ? 'null' : Array.isArray(value) ? 'list' : typeof value;
  return `bad value for ${where}: expected ${expected}, got ${kind} ${JSON.stringify(value)}`;
}
