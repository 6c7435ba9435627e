import assert from "node:assert/strict";
import { assertProblem, assertTokenPair, JSON_TYPE } from "./_assertions.ts";
import { bearer, openTestService, randomUsername } from "./_helpers.ts";

const APP = "https://app.example";
const LOCAL = "http://localhost:3000";
const PASSWORD = "correct horse battery";

/** Every `Access-Control-*` header of an answer, by lower-case name. */
function corsHeaders(response: Response): Record<string, string> {
  return Object.fromEntries(
    [...response.headers].filter(([name]) =>
      name.startsWith("access-control-")
    ),
  );
}

function listed(value: string | null | undefined): string[] {
  return (value ?? "").split(",").map((part) => part.trim().toLowerCase())
    .filter(Boolean);
}

function assertVaryOrigin(response: Response): void {
  const vary = listed(response.headers.get("vary"));
  assert.equal(vary.filter((name) => name === "origin").length, 1);
}

/** Asserts the headers a browser needs to read a non-preflight answer. */
function assertReadableFrom(response: Response, origin: string): void {
  const cors = corsHeaders(response);
  assert.deepEqual(Object.keys(cors).sort(), [
    "access-control-allow-origin",
    "access-control-expose-headers",
  ]);
  assert.equal(cors["access-control-allow-origin"], origin);
  const exposed = listed(cors["access-control-expose-headers"]);
  for (const name of ["retry-after", "www-authenticate", "x-request-id"]) {
    assert.ok(exposed.includes(name), name);
  }
  assertVaryOrigin(response);
}

function fromOrigin(origin: string, init: RequestInit = {}): RequestInit {
  const headers = new Headers(init.headers);
  headers.set("origin", origin);
  return { ...init, headers };
}

function preflight(origin: string, method = "POST"): RequestInit {
  return {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": method,
      "access-control-request-headers": "content-type,authorization",
    },
  };
}

function loginBody(username: string): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password: PASSWORD }),
  };
}

Deno.test("CORS is off while ALLOWED_ORIGINS is unset", async (t) => {
  await using service = await openTestService();

  await t.step("GET /notsecret from an origin: no CORS headers", async () => {
    const response = await service.fetch("/notsecret", fromOrigin(APP));

    assert.equal(response.status, 200);
    await response.body?.cancel();
    assert.deepEqual(corsHeaders(response), {});
    assert.equal(
      listed(response.headers.get("vary")).includes("origin"),
      false,
    );
  });

  await t.step("a preflight for POST /login: no CORS headers", async () => {
    const response = await service.fetch("/login", preflight(APP));

    assert.equal(response.status, 204);
    assert.deepEqual(corsHeaders(response), {});
  });
});

Deno.test("CORS lets a configured origin read answers", async (t) => {
  await using service = await openTestService({
    config: { allowedOrigins: [APP, LOCAL] },
  });
  const username = randomUsername();
  const signup = await service.fetch("/signup", loginBody(username));
  assert.equal(signup.status, 201);
  await signup.body?.cancel();

  await t.step("GET /notsecret from an allowed origin", async () => {
    const response = await service.fetch("/notsecret", fromOrigin(APP));

    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), JSON_TYPE);
    assert.equal(await response.json(), "Not secret data");
    assertReadableFrom(response, APP);
  });

  await t.step("POST /login from the other allowed origin", async () => {
    const response = await service.fetch(
      "/login",
      fromOrigin(LOCAL, loginBody(username)),
    );

    await assertTokenPair(response);
    assertReadableFrom(response, LOCAL);
  });

  await t.step("GET /secret without a token: the 401 is readable", async () => {
    const response = await service.fetch("/secret", fromOrigin(APP));

    await assertProblem(response, 401, "Not authenticated");
    assertReadableFrom(response, APP);
  });

  const strangers: [string, string][] = [
    ["another site", "https://evil.example"],
    ["another scheme", "http://app.example"],
    ["another port", "https://app.example:8443"],
    ["a sub-domain", "https://api.app.example"],
    ["a trailing slash", "https://app.example/"],
    ["the opaque origin", "null"],
  ];
  for (const [name, origin] of strangers) {
    await t.step(`GET /notsecret from ${name}: no CORS headers`, async () => {
      const response = await service.fetch("/notsecret", fromOrigin(origin));

      assert.equal(response.status, 200);
      await response.body?.cancel();
      assert.deepEqual(corsHeaders(response), {});
      // A shared cache must not hand this answer to an allowed origin.
      assertVaryOrigin(response);
    });
  }

  await t.step("GET /notsecret without Origin: Vary only", async () => {
    const response = await service.fetch("/notsecret");

    await response.body?.cancel();
    assert.deepEqual(corsHeaders(response), {});
    assertVaryOrigin(response);
  });

  await t.step(
    "GET /secret with a bad token: the 401 is readable, credentials are not allowed",
    async () => {
      const response = await service.fetch(
        "/secret",
        fromOrigin(APP, bearer("not-a-token")),
      );

      await assertProblem(response, 401, "Invalid token");
      assertReadableFrom(response, APP);
      assert.equal(
        response.headers.has("access-control-allow-credentials"),
        false,
      );
    },
  );
});

Deno.test("CORS answers a preflight from a configured origin", async (t) => {
  await using service = await openTestService({
    config: { allowedOrigins: [APP] },
  });

  /** Asserts a successful preflight and returns its allowed methods. */
  async function assertPreflight(path: string, method: string) {
    const response = await service.fetch(path, preflight(APP, method));

    assert.equal(response.status, 204);
    assert.equal(await response.text(), "");
    const cors = corsHeaders(response);
    assert.deepEqual(Object.keys(cors).sort(), [
      "access-control-allow-headers",
      "access-control-allow-methods",
      "access-control-allow-origin",
      "access-control-max-age",
    ]);
    assert.equal(cors["access-control-allow-origin"], APP);
    assert.equal(
      cors["access-control-allow-methods"],
      response.headers.get("allow"),
    );
    const headers = listed(cors["access-control-allow-headers"]);
    for (const name of ["authorization", "content-type", "x-request-id"]) {
      assert.ok(headers.includes(name), name);
    }
    assert.match(cors["access-control-max-age"] ?? "", /^[1-9]\d*$/);
    assertVaryOrigin(response);
    return cors["access-control-allow-methods"];
  }

  await t.step("POST /login: 204 allowing POST", async () => {
    assert.equal(await assertPreflight("/login", "POST"), "POST, OPTIONS");
  });

  await t.step("GET /secret: 204 without a token", async () => {
    assert.equal(
      await assertPreflight("/secret", "GET"),
      "GET, POST, HEAD, OPTIONS",
    );
  });

  await t.step("DELETE /me: 204 allowing DELETE", async () => {
    const methods = listed(await assertPreflight("/me", "DELETE"));
    assert.ok(methods.includes("delete"));
  });

  await t.step("PUT /login: 204 whose methods leave PUT out", async () => {
    const methods = listed(await assertPreflight("/login", "PUT"));
    assert.equal(methods.includes("put"), false);
  });

  await t.step("an unknown path: 404 problem details", async () => {
    const response = await service.fetch("/nowhere", preflight(APP));

    await assertProblem(response, 404, "Not Found");
    assert.equal(response.headers.has("access-control-allow-methods"), false);
    assert.equal(
      response.headers.has("access-control-allow-credentials"),
      false,
    );
  });

  await t.step("from another origin: 204 without CORS headers", async () => {
    const response = await service.fetch(
      "/login",
      preflight("https://evil.example"),
    );

    assert.equal(response.status, 204);
    assert.deepEqual(corsHeaders(response), {});
    assertVaryOrigin(response);
  });
});
