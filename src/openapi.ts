/**
 * The OpenAPI 3.1 document of the service, written from its route table so
 * that code and document cannot part: summaries, request bodies from the
 * routes' zod schemas, every status a route declares, and its security.
 *
 * @module
 */
import { z } from "zod";
import {
  ANSWER_SCHEMAS,
  OAUTH_ERROR,
  PROBLEM,
  VALIDATION_PROBLEM,
} from "./answer_schemas.ts";
import type { AnswerBody, ApiRoute } from "./api_route.ts";

/** A JSON object of the document. */
export type JsonObject = Record<string, unknown>;

/** Options for {@linkcode createOpenApiDocument}. */
export interface OpenApiOptions {
  title: string;
  version: string;
  description?: string;
}

/** The security scheme of routes that need an access token. */
export const ACCESS_SCHEME = "accessToken";

/** The security scheme of the route that reads a refresh token. */
export const REFRESH_SCHEME = "refreshToken";

const JSON_MEDIA = "application/json";
const PROBLEM_MEDIA = "application/problem+json";
const SCHEMA_REF = "#/components/schemas/";

/**
 * Writes the OpenAPI 3.1 document of a route table.
 *
 * @example Usage
 * ```ts
 * const document = createOpenApiDocument(routes, {
 *   title: "Auth service",
 *   version: "1.0.0",
 * });
 * ```
 * @throws {Error} if a route cannot be documented: a successful answer
 * without a body schema, a path pattern beyond `:name`, or two routes
 * with one method and path.
 */
export function createOpenApiDocument(
  routes: ApiRoute[],
  options: OpenApiOptions,
): JsonObject {
  const paths: Record<string, JsonObject> = {};
  for (const route of routes) {
    const item = paths[openApiPath(route.path)] ??= {};
    const method = route.method.toLowerCase();
    if (item[method]) throw new Error(`Cannot document "${key(route)}" twice`);
    item[method] = operation(route);
  }
  const info: JsonObject = { title: options.title, version: options.version };
  if (options.description) info.description = options.description;
  return {
    openapi: "3.1.0",
    info,
    paths,
    components: { schemas: namedSchemas(), securitySchemes: SECURITY },
  };
}

/** The OpenAPI form of a route path: `/docs/:file` becomes `/docs/{file}`. */
export function openApiPath(path: string): string {
  const converted = path.replace(/:(\w+)/g, "{$1}");
  if (/[:*(){}?+]/.test(converted.replace(/\{\w+\}/g, ""))) {
    throw new Error(`Cannot document path pattern "${path}"`);
  }
  return converted;
}

const SECURITY: JsonObject = {
  [ACCESS_SCHEME]: {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "An access token from /login, /refresh_token or /token",
  },
  [REFRESH_SCHEME]: {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "A refresh token, for GET /refresh_token",
  },
};

function operation(route: ApiRoute): JsonObject {
  const op: JsonObject = {
    operationId: operationId(route),
    summary: route.summary,
  };
  const parameters = pathParameters(route);
  if (parameters.length) op.parameters = parameters;
  if (route.body) op.requestBody = requestBody(route, route.body);
  const scheme = securityScheme(route);
  if (scheme) op.security = [{ [scheme]: [] }];
  op.responses = Object.fromEntries(
    Object.entries(route.responses).map(([status, description]) => [
      status,
      response(route, Number(status), description),
    ]),
  );
  return op;
}

function operationId(route: ApiRoute): string {
  const words = route.path.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return [route.method.toLowerCase(), ...words].join("_");
}

function pathParameters(route: ApiRoute): JsonObject[] {
  const names = [...openApiPath(route.path).matchAll(/\{(\w+)\}/g)]
    .map((match) => match[1] ?? "");
  const shape: Record<string, z.ZodType | undefined> = route.params?.shape ??
    {};
  return names.map((name) => {
    const given = shape[name];
    return {
      name,
      in: "path",
      required: true,
      schema: given ? jsonSchema(given, "input") : { type: "string" },
    };
  });
}

function requestBody(route: ApiRoute, body: z.ZodType): JsonObject {
  const schema = jsonSchema(body, "input");
  const types = route.bodyTypes ?? [JSON_MEDIA];
  return {
    required: true,
    content: Object.fromEntries(types.map((type) => [type, { schema }])),
  };
}

// RFC 6750 section 2.1: both token kinds travel as Bearer credentials.
function securityScheme(route: ApiRoute): string | undefined {
  if (route.auth !== "none") return ACCESS_SCHEME;
  return route.refreshBearer ? REFRESH_SCHEME : undefined;
}

function response(
  route: ApiRoute,
  status: number,
  description: string,
): JsonObject {
  if (status === 204) return { description };
  if (status < 400) {
    const answer = route.answers?.[status];
    if (!answer) {
      throw new Error(
        `Cannot document "${key(route)}": no body for status ${status}`,
      );
    }
    return { description, content: answerContent(answer) };
  }
  const answer: JsonObject = {
    description,
    content: errorContent(route, status),
  };
  const headers = errorHeaders(status);
  if (headers) answer.headers = headers;
  return answer;
}

function answerContent(answer: AnswerBody): JsonObject {
  const schema = schemaOrRef(answer.schema);
  const types = answer.mediaTypes ?? [JSON_MEDIA];
  return Object.fromEntries(types.map((type) => [type, { schema }]));
}

function errorContent(route: ApiRoute, status: number): JsonObject {
  if (route.oauthErrors) {
    return { [JSON_MEDIA]: { schema: schemaOrRef(OAUTH_ERROR) } };
  }
  const schema = status === 422 ? VALIDATION_PROBLEM : PROBLEM;
  return { [PROBLEM_MEDIA]: { schema: schemaOrRef(schema) } };
}

function errorHeaders(status: number): JsonObject | undefined {
  // RFC 6750 section 3: every 401 carries the Bearer challenge.
  if (status === 401) {
    return {
      "WWW-Authenticate": {
        description: 'The Bearer challenge; `error="invalid_token"` when a ' +
          "token was sent and refused",
        required: true,
        schema: { type: "string" },
      },
    };
  }
  if (status === 429 || status === 503) {
    return {
      "Retry-After": {
        description: "Seconds to wait before trying again, when known",
        schema: { type: "string" },
      },
    };
  }
  return undefined;
}

function schemaOrRef(schema: z.ZodType): JsonObject {
  const id = ANSWER_SCHEMAS.get(schema)?.id;
  return id ? { $ref: SCHEMA_REF + id } : jsonSchema(schema, "output");
}

function namedSchemas(): Record<string, JsonObject> {
  const { schemas } = z.toJSONSchema(ANSWER_SCHEMAS, {
    uri: (id) => SCHEMA_REF + id,
  });
  return Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => {
      const { $schema: _dialect, $id: _id, ...rest } = schema;
      return [id, rest];
    }),
  );
}

// OpenAPI 3.1's schema dialect is draft 2020-12, the one zod writes, so
// the per-schema `$schema` is left out.
function jsonSchema(schema: z.ZodType, io: "input" | "output"): JsonObject {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io });
  return rest;
}

function key(route: ApiRoute): string {
  return `${route.method} ${route.path}`;
}
