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
  return withHeaders(
    new Response(JSON.stringify(body), { status }),
    "application/problem+json",
    options.headers,
  );
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
  return withHeaders(
    new Response(JSON.stringify(body), { status: options.status ?? 200 }),
    "application/json; charset=utf-8",
    options.headers,
  );
}

// Headers set on a made response cost a fraction of headers handed to the
// Response constructor, which converts and checks its whole init first.
function withHeaders(
  response: Response,
  contentType: string,
  extra: HeadersInit | undefined,
): Response {
  const headers = response.headers;
  if (extra) {
    new Headers(extra).forEach((value, name) => headers.set(name, value));
  }
  headers.set("content-type", contentType);
  return response;
}
