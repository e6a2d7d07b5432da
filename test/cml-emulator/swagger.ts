// The CML API v2 swagger as the emulator reads it: the document's shape and a route table built from its paths.
import { readFileSync } from 'node:fs';

export interface SwaggerSchema {
  type?: string;
  format?: string;
  $ref?: string;
  properties?: Record<string, SwaggerSchema>;
  additionalProperties?: SwaggerSchema | boolean;
  items?: SwaggerSchema;
  enum?: string[];
  readOnly?: boolean;
}

export interface SwaggerParameter {
  name: string;
  in: 'path' | 'query' | 'body' | 'formData' | 'header';
  required?: boolean;
  type?: string;
  format?: string;
  items?: SwaggerSchema;
  schema?: SwaggerSchema;
  description?: string;
}

export interface SwaggerOperation {
  operationId: string;
  summary?: string;
  parameters?: SwaggerParameter[];
  consumes?: string[];
  responses: Record<string, { schema?: SwaggerSchema }>;
}

export interface SwaggerDocument {
  consumes?: string[];
  paths: Record<string, Record<string, SwaggerOperation>>;
  definitions: Record<string, SwaggerSchema>;
}

/** The copy kept beside the emulator, so the repository holds the contract it is tested against. */
export const SWAGGER_FILE = new URL('./cml-api-v2.swagger.json', import.meta.url);

export function loadSwagger(file: URL | string = SWAGGER_FILE): SwaggerDocument {
  return JSON.parse(readFileSync(file, 'utf8')) as SwaggerDocument;
}

export interface Route {
  template: string;
  method: string;
  operation: SwaggerOperation;
  paramNames: string[];
  pattern: RegExp;
  /** Routes with more literal text win: `/projects/batch` over `/projects/{project_id}`. */
  literalLength: number;
}

export type RouteMatch =
  | { kind: 'found'; route: Route; params: Record<string, string> }
  | { kind: 'no-path' }
  | { kind: 'no-method'; allowed: string[] };

/**
 * A parameter matches one path segment, without the `:` that starts a custom verb (`{application_id}:stop`).
 * The swagger loses grpc-gateway's `{path=**}`, so the project-file `path` parameter alone spans segments, and
 * may be empty (CML lists the project root for an empty path, `.` and `%2F` alike).
 */
function parameterPattern(name: string): string {
  return name === 'path' ? '(.*?)' : '([^/:]+)';
}

function compile(template: string): { pattern: RegExp; paramNames: string[]; literalLength: number } {
  const paramNames: string[] = [];
  let source = '';
  let literalLength = 0;
  for (const piece of template.split(/(\{[^}]+\})/)) {
    const parameter = /^\{([^}]+)\}$/.exec(piece);
    if (parameter !== null) {
      paramNames.push(parameter[1] ?? '');
      source += parameterPattern(parameter[1] ?? '');
    } else {
      literalLength += piece.length;
      source += piece.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  return { pattern: new RegExp(`^${source}$`), paramNames, literalLength };
}

export class RouteTable {
  private readonly routes: Route[] = [];

  constructor(document: SwaggerDocument) {
    for (const [template, operations] of Object.entries(document.paths)) {
      const compiled = compile(template);
      for (const [method, operation] of Object.entries(operations)) {
        this.routes.push({ template, method: method.toUpperCase(), operation, ...compiled });
      }
    }
    this.routes.sort((a, b) => b.literalLength - a.literalLength);
  }

  /** The operation for a method and a raw (still percent-encoded) path. */
  match(method: string, rawPath: string): RouteMatch {
    const allowed: string[] = [];
    for (const route of this.routes) {
      const found = route.pattern.exec(rawPath);
      if (found === null) continue;
      if (route.method !== method) {
        allowed.push(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      route.paramNames.forEach((name, index) => {
        params[name] = decodeURIComponent(found[index + 1] ?? '');
      });
      return { kind: 'found', route, params };
    }
    return allowed.length > 0 ? { kind: 'no-method', allowed } : { kind: 'no-path' };
  }

  operationIds(): string[] {
    return this.routes.map((route) => route.operation.operationId);
  }
}
