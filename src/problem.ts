/**
 * Writing answers: RFC 9457 problem details for errors, JSON otherwise.
 *
 * @module
 */
import type { FieldError } from "./http_error.ts";

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** Options for {@linkcode problemResponse}. */
export interface ProblemOptions {
  headers?: HeadersInit;
  errors?: FieldError[] | undefined;
  /** Included so a user can quote it when reporting a server fault. */
  requestId?: string | undefined;
}

/**
 * Builds an RFC 9457 problem-details response. The `type` is always
 * `about:blank`, so `title` is the status's reason phrase (section 4.2.1).
 */
export function problemResponse(
  status: number,
  detail: string,
  options: ProblemOptions = {},
): Response {
  const body: Record<string, unknown> = {
    type: "about:blank",
    title: TITLES[status] ?? "Error",
    status,
    detail,
  };
  if (options.errors) body.errors = options.errors;
  if (options.requestId) body.request_id = options.requestId;
  const headers = new Headers(options.headers);
  headers.set("content-type", "application/problem+json");
  return new Response(JSON.stringify(body), { status, headers });
}

/** Options for {@linkcode jsonResponse}. */
export interface JsonResponseOptions {
  status?: number;
  headers?: HeadersInit;
}

/** Builds a JSON response. */
export function jsonResponse(
  body: unknown,
  options: JsonResponseOptions = {},
): Response {
  const headers = new Headers(options.headers);
  headers.set("content-type", "application/json; charset=utf-8");
  return new Response(JSON.stringify(body), {
    status: options.status ?? 200,
    headers,
  });
}
