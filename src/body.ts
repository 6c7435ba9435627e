/**
 * Reading request bodies: size limit, content type, parsing and schema
 * validation, each failure with its own 4xx answer.
 *
 * @module
 */
import { z } from "zod";
import { type FieldError, HttpError } from "./http_error.ts";

/** The largest request body accepted, in bytes. */
export const MAX_BODY_BYTES = 16 * 1024;

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json$/;
const FORM_TYPE = "application/x-www-form-urlencoded";

/** The media type of a request, lower case and without parameters. */
export function mediaType(request: Request): string {
  const header = request.headers.get("content-type") ?? "";
  return (header.split(";")[0] ?? "").trim().toLowerCase();
}

/**
 * Reads a request body of at most {@linkcode MAX_BODY_BYTES} bytes,
 * stopping as soon as more arrives.
 *
 * @throws {HttpError} 413 if the body is larger.
 */
export async function readBodyText(request: Request): Promise<string> {
  const declared = Number(request.headers.get("content-length") ?? 0);
  if (declared > MAX_BODY_BYTES) throw tooLarge();
  if (!request.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) throw tooLarge();
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}

function tooLarge(): HttpError {
  const limit = `${MAX_BODY_BYTES / 1024} KiB`;
  return new HttpError(413, `Request body is larger than ${limit}`);
}

async function readText(request: Request): Promise<string> {
  try {
    return await readBodyText(request);
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

/**
 * Reads a JSON body and checks it against a schema.
 *
 * @throws {HttpError} 415 without a JSON content type, 413 if too large,
 * 400 if not JSON, 422 naming each invalid field.
 */
export async function readJson<T>(
  request: Request,
  schema: z.ZodType<T>,
): Promise<T> {
  if (!JSON_TYPE.test(mediaType(request))) {
    throw new HttpError(415, "Request body must be application/json");
  }
  return validate(parseJsonText(await readText(request)), schema);
}

/**
 * Reads a body that may be JSON or form-encoded, as OAuth 2.0 clients
 * send either, and checks it against a schema.
 *
 * @throws {HttpError} as {@linkcode readJson} does.
 */
export async function readJsonOrForm<T>(
  request: Request,
  schema: z.ZodType<T>,
): Promise<T> {
  const type = mediaType(request);
  if (type === FORM_TYPE) {
    const fields = new URLSearchParams(await readText(request));
    return validate(Object.fromEntries(fields), schema);
  }
  if (!JSON_TYPE.test(type)) {
    throw new HttpError(
      415,
      `Request body must be application/json or ${FORM_TYPE}`,
    );
  }
  return validate(parseJsonText(await readText(request)), schema);
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
