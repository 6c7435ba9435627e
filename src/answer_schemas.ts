/**
 * The bodies the routes answer with, as zod schemas, for the API document.
 * The tests hold every answer they provoke against these, so a schema that
 * stops matching the code fails there.
 *
 * @module
 */
import { z } from "zod";

/** The named schemas, listed under `components.schemas` in the document. */
export const ANSWER_SCHEMAS = z.registry<{ id: string }>();

/** The token pair of login, refresh and the token endpoint. */
export const TOKEN_PAIR = z.object({
  access_token: z.string().meta({ description: "JWT for protected routes" }),
  refresh_token: z.string().meta({
    description: "JWT for /refresh_token and the refresh_token grant",
  }),
  token_type: z.literal("Bearer"),
  expires_in: z.int().positive().meta({
    description: "Seconds the access token lasts",
  }),
  refresh_expires_in: z.int().positive().meta({
    description: "Seconds the refresh token lasts",
  }),
}).register(ANSWER_SCHEMAS, { id: "TokenPair" });

/** An account as the service shows it. */
export const ACCOUNT = z.object({
  username: z.string().meta({ description: "The name as first written" }),
  created_at: z.iso.datetime(),
}).register(ANSWER_SCHEMAS, { id: "Account" });

const FIELD_ERROR = z.object({
  field: z.string().meta({ description: "Dotted path of the field" }),
  message: z.string(),
});

const PROBLEM_FIELDS = {
  type: z.literal("about:blank"),
  title: z.string().meta({ description: "The status's reason phrase" }),
  status: z.int().min(400).max(599),
  detail: z.string(),
  request_id: z.string().optional().meta({
    description: "On a 500, to quote when reporting the fault",
  }),
};

/** RFC 9457 problem details, the body of every error but at /token. */
export const PROBLEM = z.object({
  ...PROBLEM_FIELDS,
  errors: z.array(FIELD_ERROR).optional().meta({
    description: "The invalid fields, on a 422",
  }),
}).register(ANSWER_SCHEMAS, { id: "Problem" });

/** Problem details of a 422, naming each invalid field. */
export const VALIDATION_PROBLEM = z.object({
  ...PROBLEM_FIELDS,
  errors: z.array(FIELD_ERROR).min(1),
}).register(ANSWER_SCHEMAS, { id: "ValidationProblem" });

/** An error of the OAuth 2.0 token endpoint (RFC 6749 section 5.2). */
export const OAUTH_ERROR = z.object({
  error: z.enum([
    "invalid_request",
    "invalid_grant",
    "unsupported_grant_type",
    "temporarily_unavailable",
    "server_error",
  ]),
  error_description: z.string(),
}).register(ANSWER_SCHEMAS, { id: "OAuthError" });

/** The answer of a healthy `/healthz`. */
export const HEALTH = z.object({ status: z.literal("ok") });

/** A bare JSON string, as `/secret` and `/notsecret` answer. */
export const MESSAGE = z.string();

/** The API document itself; its shape is the OpenAPI 3.1 specification. */
export const OPENAPI_DOCUMENT = z.looseObject({ openapi: z.string() });
