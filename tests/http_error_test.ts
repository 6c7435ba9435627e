import assert from "node:assert/strict";
import {
  bearerChallenge,
  HttpError,
  OAuthError,
  unauthorized,
} from "../src/http_error.ts";

Deno.test("HttpError carries its status, detail, headers and field errors", () => {
  const cause = new Error("store down");
  const errors = [{ field: "username", message: "is required" }];

  const error = new HttpError(422, "Request body is invalid", {
    headers: { "retry-after": "5" },
    errors,
    cause,
  });

  assert.ok(error instanceof Error);
  assert.equal(error.name, "HttpError");
  assert.equal(error.message, "Request body is invalid");
  assert.equal(error.status, 422);
  assert.equal(error.detail, "Request body is invalid");
  assert.equal(error.headers.get("retry-after"), "5");
  assert.deepEqual(error.errors, errors);
  assert.equal(error.cause, cause);
});

Deno.test("HttpError starts with no headers, field errors or cause", () => {
  const error = new HttpError(404, "Not Found");

  assert.deepEqual([...error.headers], []);
  assert.equal(error.errors, undefined);
  assert.equal(error.cause, undefined);
});

Deno.test("OAuthError is a 400 HttpError with an RFC 6749 error code", () => {
  const error = new OAuthError("invalid_grant", "Invalid username or password");

  assert.ok(error instanceof HttpError);
  assert.equal(error.name, "OAuthError");
  assert.equal(error.status, 400);
  assert.equal(error.error, "invalid_grant");
  assert.equal(error.detail, "Invalid username or password");
  assert.equal(error.cause, undefined);
  const tooLarge = new OAuthError("invalid_request", "Too large", {
    status: 413,
    headers: { connection: "close" },
    cause: new Error("Body over the limit"),
  });
  assert.equal(tooLarge.status, 413);
  assert.equal(tooLarge.headers.get("connection"), "close");
  assert.equal((tooLarge.cause as Error).message, "Body over the limit");
});

Deno.test("bearerChallenge() follows RFC 6750 section 3", async (t) => {
  await t.step("bare when no token was sent", () => {
    assert.equal(
      bearerChallenge(false, "Not authenticated"),
      'Bearer realm="auth"',
    );
  });

  await t.step("with invalid_token and the detail when one was", () => {
    assert.equal(
      bearerChallenge(true, "Token expired"),
      'Bearer realm="auth", error="invalid_token", error_description="Token expired"',
    );
  });

  await t.step("without double quotes inside the description", () => {
    assert.equal(
      bearerChallenge(true, 'Token "abc" refused'),
      `Bearer realm="auth", error="invalid_token", error_description="Token 'abc' refused"`,
    );
  });

  await t.step("with an empty description when none is given", () => {
    assert.equal(
      bearerChallenge(true),
      'Bearer realm="auth", error="invalid_token", error_description=""',
    );
  });
});

Deno.test("unauthorized() is a 401 carrying the Bearer challenge", () => {
  const refused = unauthorized("Invalid token", true);
  const missing = unauthorized("Not authenticated", false);

  assert.equal(refused.status, 401);
  assert.equal(refused.detail, "Invalid token");
  assert.equal(
    refused.headers.get("www-authenticate"),
    'Bearer realm="auth", error="invalid_token", error_description="Invalid token"',
  );
  assert.equal(missing.status, 401);
  assert.equal(missing.headers.get("www-authenticate"), 'Bearer realm="auth"');
});
