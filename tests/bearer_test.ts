import assert from "node:assert/strict";
import { bearerToken } from "../src/bearer.ts";
import { HttpError } from "../src/http_error.ts";

const TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl";

function withAuthorization(value?: string): Request {
  const headers = new Headers();
  if (value !== undefined) headers.set("authorization", value);
  return new Request("http://localhost/secret", { headers });
}

function refusal(value?: string): HttpError {
  try {
    bearerToken(withAuthorization(value));
  } catch (error) {
    assert.ok(error instanceof HttpError, `not an HttpError: ${error}`);
    return error;
  }
  assert.fail(`accepted ${JSON.stringify(value)}`);
}

Deno.test("bearerToken() returns the token of a Bearer header", async (t) => {
  await t.step("as sent", () => {
    assert.equal(bearerToken(withAuthorization(`Bearer ${TOKEN}`)), TOKEN);
  });

  await t.step("with the scheme in any case", () => {
    assert.equal(bearerToken(withAuthorization(`bearer ${TOKEN}`)), TOKEN);
    assert.equal(bearerToken(withAuthorization(`BEARER ${TOKEN}`)), TOKEN);
  });

  await t.step("with extra white space around and between", () => {
    assert.equal(bearerToken(withAuthorization(`Bearer \t ${TOKEN}  `)), TOKEN);
  });

  await t.step("with every character RFC 6750 allows", () => {
    const token = "AZaz09-._~+/==";

    assert.equal(bearerToken(withAuthorization(`Bearer ${token}`)), token);
  });
});

Deno.test("bearerToken() answers 401 Not authenticated without Bearer credentials", async (t) => {
  const cases: [string, string | undefined][] = [
    ["no header", undefined],
    ["an empty header", ""],
    ["another scheme", "Basic YWxpY2U6c2VjcmV0"],
    ["no scheme", TOKEN],
    ["a scheme that merely starts like Bearer", `Bearerx ${TOKEN}`],
  ];
  for (const [name, value] of cases) {
    await t.step(name, () => {
      const error = refusal(value);

      assert.equal(error.status, 401);
      assert.equal(error.detail, "Not authenticated");
      assert.equal(
        error.headers.get("www-authenticate"),
        'Bearer realm="auth"',
      );
    });
  }
});

Deno.test("bearerToken() answers 401 Invalid token for malformed Bearer credentials", async (t) => {
  const cases: [string, string][] = [
    ["an empty token", "Bearer"],
    ["an empty token after spaces", "Bearer   "],
    ["two tokens", `Bearer ${TOKEN} ${TOKEN}`],
    ["characters outside b64token", 'Bearer abc"def'],
    ["a comma", `Bearer ${TOKEN},x`],
    ["padding in the middle", "Bearer abc=def"],
    ["non-ASCII", "Bearer tökén"],
  ];
  for (const [name, value] of cases) {
    await t.step(name, () => {
      const error = refusal(value);

      assert.equal(error.status, 401);
      assert.equal(error.detail, "Invalid token");
      assert.equal(
        error.headers.get("www-authenticate"),
        'Bearer realm="auth", error="invalid_token", error_description="Invalid token"',
      );
    });
  }
});
