/**
 * The one error class that carries an HTTP answer. Code below the router
 * throws it; the router's boundary turns it into a response.
 *
 * @module
 */

/** One invalid field of a request body. */
export interface FieldError {
  field: string;
  message: string;
}

/** Options for {@linkcode HttpError}. */
export interface HttpErrorOptions {
  /** Headers to send with the answer, such as `WWW-Authenticate`. */
  headers?: HeadersInit;
  /** The invalid fields, for a validation failure. */
  errors?: FieldError[];
  /** The underlying error, kept for the log only. */
  cause?: unknown;
}

/**
 * An error that answers with a status and a short human `detail`.
 *
 * @example Usage
 * ```ts
 * throw new HttpError(409, "Account already exists");
 * ```
 */
export class HttpError extends Error {
  readonly status: number;
  readonly detail: string;
  readonly headers: Headers;
  readonly errors: FieldError[] | undefined;

  constructor(status: number, detail: string, options: HttpErrorOptions = {}) {
    super(detail, { cause: options.cause });
    this.name = "HttpError";
    this.status = status;
    this.detail = detail;
    this.headers = new Headers(options.headers);
    this.errors = options.errors;
  }
}

/** Options for {@linkcode OAuthError}. */
export interface OAuthErrorOptions {
  /**
   * The HTTP status.
   * @default {400}
   */
  status?: number;
  /** Headers to send with the answer, such as `Retry-After`. */
  headers?: HeadersInit | undefined;
  /** The underlying error, kept for the log only. */
  cause?: unknown;
}

/**
 * An error at the OAuth 2.0 token endpoint, answered in the form RFC 6749
 * section 5.2 prescribes rather than as problem details.
 *
 * @example Usage
 * ```ts
 * throw new OAuthError("invalid_request", "Too large", { status: 413 });
 * ```
 */
export class OAuthError extends HttpError {
  /** The RFC 6749 error code, such as `invalid_grant`. */
  readonly error: string;

  constructor(
    error: string,
    description: string,
    options: OAuthErrorOptions = {},
  ) {
    const { status = 400, headers, cause } = options;
    super(status, description, { headers, cause });
    this.name = "OAuthError";
    this.error = error;
  }
}

/**
 * The Bearer challenge of RFC 6750 section 3: bare when no token came,
 * with `error="invalid_token"` when one came and was refused.
 */
export function bearerChallenge(tokenSent: boolean, detail?: string): string {
  if (!tokenSent) return 'Bearer realm="auth"';
  const description = (detail ?? "").replaceAll('"', "'");
  return `Bearer realm="auth", error="invalid_token", ` +
    `error_description="${description}"`;
}

/** A 401 answer with the Bearer challenge. */
export function unauthorized(detail: string, tokenSent: boolean): HttpError {
  return new HttpError(401, detail, {
    headers: { "www-authenticate": bearerChallenge(tokenSent, detail) },
  });
}
