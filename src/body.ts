/**
 * Reading request bodies: size limit, deadline, content type, parsing and
 * schema validation, each failure with its own 4xx answer.
 *
 * @module
 */
import { z } from "zod";
import { type FieldError, HttpError } from "./http_error.ts";

/** The largest request body accepted, in bytes. */
export const MAX_BODY_BYTES = 16 * 1024;

/** How long a whole request body may take to arrive, in milliseconds. */
export const BODY_TIMEOUT_MS = 10_000;

/** Options for {@linkcode readBodyText} and the readers built on it. */
export interface ReadBodyOptions {
  /**
   * How long the whole body may take to arrive, in milliseconds.
   * @default {10000}
   */
  timeoutMs?: number;
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json$/;
const FORM_TYPE = "application/x-www-form-urlencoded";

/** The media type of a request, lower case and without parameters. */
export function mediaType(request: Request): string {
  const header = request.headers.get("content-type") ?? "";
  return (header.split(";")[0] ?? "").trim().toLowerCase();
}

/**
 * Reads a request body of at most {@linkcode MAX_BODY_BYTES} bytes,
 * stopping as soon as more arrives, or once the deadline passes.
 *
 * @example Usage
 * ```ts
 * const text = await readBodyText(request, { timeoutMs: 5_000 });
 * ```
 *
 * @throws {HttpError} 413 if the body is larger, 408 if it has not all
 * arrived within `timeoutMs` (10 seconds unless given).
 */
export async function readBodyText(
  request: Request,
  options: ReadBodyOptions = {},
): Promise<string> {
  const declared = Number(request.headers.get("content-length") ?? 0);
  if (declared > MAX_BODY_BYTES) throw tooLarge();
  if (!request.body) return "";
  const timeoutMs = options.timeoutMs ?? BODY_TIMEOUT_MS;
  const chunks = await readChunks(request.body.getReader(), timeoutMs);
  return new TextDecoder("utf-8", { fatal: true }).decode(concat(chunks));
}

// A client that declares more than it sends, or sends a byte now and then,
// would otherwise hold the request (and its connection) open for ever.
// On every way out but the last chunk the stream is cancelled, so the
// server stops waiting for it too.
async function readChunks(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  timeoutMs: number,
): Promise<Uint8Array[]> {
  let cancelled: Promise<void> | undefined;
  const timer = setTimeout(() => {
    // A read that is waiting ends as done once the stream is cancelled.
    cancelled = reader.cancel().catch(() => {});
  }, timeoutMs);
  try {
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (cancelled) {
        await cancelled;
        throw tooSlow();
      }
      if (done) return chunks;
      size += value.byteLength;
      if (size > MAX_BODY_BYTES) throw tooLarge();
      chunks.push(value);
    }
  } catch (error) {
    if (!cancelled) await reader.cancel(error).catch(() => {});
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const size = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

// A refusal that leaves the body unread, or read in part, closes the
// connection: the rest of the body could not be told from a next request
// (RFC 9112 section 9.3; for 408, RFC 9110 section 15.5.9).
function refusedBody(status: number, detail: string): HttpError {
  return new HttpError(status, detail, { headers: { connection: "close" } });
}

function tooLarge(): HttpError {
  const limit = `${MAX_BODY_BYTES / 1024} KiB`;
  return refusedBody(413, `Request body is larger than ${limit}`);
}

function tooSlow(): HttpError {
  return refusedBody(408, "Request body was not received in time");
}

async function readText(
  request: Request,
  options: ReadBodyOptions,
): Promise<string> {
  try {
    return await readBodyText(request, options);
  } catch (error) {
    if (error instanceof HttpError) throw error;
    throw new HttpError(400, "Request body could not be read", {
      cause: error,
    });
  }
}

function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "Request body is not valid JSON");
  }
}

// RFC 6749 section 3.2: parameters must not be included more than once.
// Taking the first or the last would let two readers of one request (a
// proxy, a log, this service) see different values, so refuse it.
function parseFormText(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(text)) {
    if (Object.hasOwn(fields, name)) throw repeatedError(name);
    fields[name] = value;
  }
  return fields;
}

function repeatedError(name: string): HttpError {
  return new HttpError(400, `Request body repeats "${name}"`);
}

/**
 * Reads a JSON body and checks it against a schema.
 *
 * @throws {HttpError} 415 without a JSON content type, 413 if too large,
 * 408 if too slow, 400 if not JSON,
 * 422 naming each invalid field.
 */
export async function readJson<T>(
  request: Request,
  schema: z.ZodType<T>,
  options: ReadBodyOptions = {},
): Promise<T> {
  if (!JSON_TYPE.test(mediaType(request))) {
    throw refusedBody(415, "Request body must be application/json");
  }
  const text = await readText(request, options);
  return validate(parseJsonText(text), schema);
}

/**
 * Reads a body that may be JSON or form-encoded, as OAuth 2.0 clients
 * send either, and checks it against a schema.
 *
 * @throws {HttpError} as {@linkcode readJson} does, and 400 for a form
 * that gives a parameter twice.
 */
export async function readJsonOrForm<T>(
  request: Request,
  schema: z.ZodType<T>,
  options: ReadBodyOptions = {},
): Promise<T> {
  const type = mediaType(request);
  if (type === FORM_TYPE) {
    return validate(parseFormText(await readText(request, options)), schema);
  }
  if (!JSON_TYPE.test(type)) {
    throw refusedBody(
      415,
      `Request body must be application/json or ${FORM_TYPE}`,
    );
  }
  const text = await readText(request, options);
  return validate(parseJsonText(text), schema);
}

/**
 * Checks a parsed value against a schema.
 *
 * @throws {HttpError} 422 with one entry per invalid field.
 */
export function validate<T>(value: unknown, schema: z.ZodType<T>): T {
  const result = schema.safeParse(value, { error: describeIssue });
  if (result.success) return result.data;
  const errors: FieldError[] = result.error.issues.map((issue) => ({
    field: issue.path.length ? issue.path.join(".") : "body",
    message: issue.message,
  }));
  throw new HttpError(422, "Request body is invalid", { errors });
}

// zod's default wording names TypeScript types; clients want plain words.
function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code !== "invalid_type") return undefined;
  if (issue.input === undefined) return "is required";
  const expected = String(issue.expected);
  return expected === "object"
    ? "must be a JSON object"
    : `must be a ${expected}`;
}
