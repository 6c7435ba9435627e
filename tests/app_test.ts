import assert from "node:assert/strict";
import type { ApiRoute } from "../src/api_route.ts";
import { createApp, type Handler } from "../src/app.ts";
import { HttpError, OAuthError } from "../src/http_error.ts";
import type { LogFields, Logger } from "../src/log.ts";
import { jsonResponse } from "../src/problem.ts";
import { Sessions } from "../src/sessions.ts";
import { Store } from "../src/store.ts";
import { createTokens, type Tokens } from "../src/tokens.ts";
import {
  bearer,
  FakeClock,
  openTestService,
  signUpAndLogIn,
} from "./_helpers.ts";

const SECRET = new TextEncoder().encode("app-test-secret-of-enough-bytes!!!");
const UUID =
  /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface LogLine {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  fields: LogFields;
}

function capturingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine["level"]) => (message: string, fields = {}) => {
    lines.push({ level, message, fields });
  };
  return {
    lines,
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    flush: () => {},
  };
}

function route(
  method: string,
  path: string,
  handler: ApiRoute["handler"],
  auth: ApiRoute["auth"] = "none",
): ApiRoute {
  return { method, path, auth, handler, summary: path, responses: {} };
}

const ROUTES: ApiRoute[] = [
  route("GET", "/ok", () => jsonResponse({ ok: true })),
  route("GET", "/cached", () =>
    jsonResponse("public", {
      headers: { "cache-control": "public, max-age=60" },
    })),
  route(
    "GET",
    "/request-id",
    (_request, context) => jsonResponse(context.requestId),
  ),
  route("GET", "/crash", () => {
    throw new Error("Cannot open /srv/auth/data.kv: password=hunter2");
  }),
  route("GET", "/crash-string", () => {
    throw "a thrown string";
  }),
  route("POST", "/conflict", () => {
    throw new HttpError(409, "Account already exists", {
      headers: { "retry-after": "3" },
    });
  }),
  route("POST", "/invalid", () => {
    throw new HttpError(422, "Request body is invalid", {
      errors: [{ field: "password", message: "is required" }],
    });
  }),
  route("POST", "/token", () => {
    throw new OAuthError("invalid_grant", "Invalid username or password");
  }),
  route("POST", "/token-too-large", () => {
    throw new OAuthError("invalid_request", "Too large", { status: 413 });
  }),
  route("GET", "/unavailable", () => {
    throw new HttpError(503, "Store unavailable", {
      cause: new Error("KV went away"),
    });
  }),
  route("POST", "/busy", () => {
    throw new HttpError(503, "Busy, try again shortly", {
      headers: { "retry-after": "1" },
    });
  }),
  route("POST", "/token-busy", () => {
    throw new OAuthError("temporarily_unavailable", "Busy", {
      status: 503,
      headers: { "retry-after": "1" },
    });
  }),
  route(
    "GET",
    "/whoami",
    (_request, context) => jsonResponse(context.claims?.sub ?? null),
    "access",
  ),
  route("GET", "/live", () => jsonResponse("live"), "session"),
];

interface TestApp extends AsyncDisposable {
  handle: Handler;
  logger: ReturnType<typeof capturingLogger>;
  tokens: Tokens;
  sessions: Sessions;
  store: Store;
  clock: FakeClock;
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

async function openApp(): Promise<TestApp> {
  const kv = await Deno.openKv(":memory:");
  const clock = new FakeClock();
  const store = new Store(kv);
  const tokens = await createTokens(SECRET, { clock, accessTtlMs: 60_000 });
  const sessions = new Sessions({
    store,
    tokens,
    clock,
    accessTtlMs: 60_000,
    refreshTtlMs: 3_600_000,
    reuseIntervalMs: 10_000,
  });
  const logger = capturingLogger();
  const handle = createApp({ routes: ROUTES, sessions, logger });
  return {
    handle,
    logger,
    tokens,
    sessions,
    store,
    clock,
    fetch: async (path, init) =>
      await handle(new Request(new URL(path, "http://localhost"), init)),
    [Symbol.asyncDispose]: () => Promise.resolve(kv.close()),
  };
}

function withRequestId(id: string): RequestInit {
  return { headers: { "x-request-id": id } };
}

function assertCommonHeaders(response: Response): void {
  assert.equal(response.headers.get("x-content-type-options"), "nosniff");
  assert.equal(response.headers.get("referrer-policy"), "no-referrer");
  assert.equal(response.headers.get("x-frame-options"), "DENY");
  assert.match(response.headers.get("x-request-id") ?? "", /./);
}

Deno.test("createApp() keeps a sane incoming X-Request-Id", async (t) => {
  await using app = await openApp();

  for (
    const id of [
      "abc-123",
      "0f8b2c1e-9d7a-4e3b-8c6f-1a2b3c4d5e6f",
      "trace:1.2_3",
      "x".repeat(128),
    ]
  ) {
    await t.step(id.length > 40 ? "128 characters" : id, async () => {
      const response = await app.fetch("/request-id", withRequestId(id));

      assert.equal(response.headers.get("x-request-id"), id);
      assert.equal(await response.json(), id);
      assert.equal(app.logger.lines.at(-1)?.fields.request_id, id);
    });
  }
});

Deno.test("createApp() replaces an insane X-Request-Id with a fresh UUID", async (t) => {
  await using app = await openApp();

  const cases: [string, string][] = [
    ["empty", ""],
    ["129 characters", "x".repeat(129)],
    ["a space", "abc def"],
    ["a quote", 'abc"def'],
    ["a comma", "a,b"],
    ["a slash", "../etc"],
    ["a Latin-1 letter", "caf\u00e9"],
  ];
  for (const [name, id] of cases) {
    await t.step(name, async () => {
      const response = await app.fetch("/request-id", withRequestId(id));

      const given = response.headers.get("x-request-id") ?? "";
      assert.match(given, UUID);
      assert.equal(await response.json(), given);
      assert.equal(app.logger.lines.at(-1)?.fields.request_id, given);
    });
  }

  await t.step("none at all", async () => {
    const response = await app.fetch("/request-id");

    assert.match(response.headers.get("x-request-id") ?? "", UUID);
    await response.body?.cancel();
  });

  await t.step("two requests get two ids", async () => {
    const first = await app.fetch("/request-id");
    const second = await app.fetch("/request-id");

    assert.notEqual(await first.json(), await second.json());
  });
});

Deno.test("createApp() sets the common headers on every answer", async (t) => {
  await using app = await openApp();

  const cases: [string, string, string, number][] = [
    ["a success", "GET", "/ok", 200],
    ["an unknown path", "GET", "/nowhere", 404],
    ["a wrong method", "DELETE", "/ok", 405],
    ["an OPTIONS answer", "OPTIONS", "/ok", 204],
    ["a client error", "POST", "/conflict", 409],
    ["an OAuth error", "POST", "/token", 400],
    ["a server error", "GET", "/crash", 500],
    ["a missing token", "GET", "/whoami", 401],
  ];
  for (const [name, method, path, status] of cases) {
    await t.step(name, async () => {
      const response = await app.fetch(path, { method });

      assert.equal(response.status, status);
      assertCommonHeaders(response);
      assert.equal(response.headers.get("cache-control"), "no-store");
      await response.body?.cancel();
    });
  }

  await t.step("a handler's own Cache-Control is kept", async () => {
    const response = await app.fetch("/cached");

    assertCommonHeaders(response);
    assert.equal(response.headers.get("cache-control"), "public, max-age=60");
    await response.body?.cancel();
  });
});

Deno.test("createApp() answers router refusals as problem details", async (t) => {
  await using app = await openApp();

  await t.step("404 for an unknown path", async () => {
    const response = await app.fetch("/nowhere");

    assert.equal(response.status, 404);
    assert.equal(
      response.headers.get("content-type"),
      "application/problem+json",
    );
    assert.deepEqual(await response.json(), {
      type: "about:blank",
      title: "Not Found",
      status: 404,
      detail: "Not Found",
    });
  });

  await t.step("405 with Allow for a wrong method", async () => {
    const response = await app.fetch("/ok", { method: "POST" });

    assert.equal(response.status, 405);
    assert.equal(response.headers.get("allow"), "GET, HEAD, OPTIONS");
    assert.equal((await response.json()).detail, "Method Not Allowed");
  });
});

Deno.test("createApp() answers an HttpError with its status, detail and headers", async (t) => {
  await using app = await openApp();

  await t.step("with its own headers", async () => {
    const response = await app.fetch("/conflict", { method: "POST" });

    assert.equal(response.status, 409);
    assert.equal(response.headers.get("retry-after"), "3");
    assert.equal(
      response.headers.get("content-type"),
      "application/problem+json",
    );
    assert.deepEqual(await response.json(), {
      type: "about:blank",
      title: "Conflict",
      status: 409,
      detail: "Account already exists",
    });
  });

  await t.step("with field errors", async () => {
    const response = await app.fetch("/invalid", { method: "POST" });

    assert.equal(response.status, 422);
    assert.deepEqual(await response.json(), {
      type: "about:blank",
      title: "Unprocessable Content",
      status: 422,
      detail: "Request body is invalid",
      errors: [{ field: "password", message: "is required" }],
    });
  });

  await t.step("without logging a client error", () => {
    assert.deepEqual(
      app.logger.lines.filter((line) => line.level !== "info"),
      [],
    );
  });
});

Deno.test("createApp() answers an OAuthError in the RFC 6749 form", async (t) => {
  await using app = await openApp();

  await t.step("400 invalid_grant", async () => {
    const response = await app.fetch("/token", { method: "POST" });

    assert.equal(response.status, 400);
    assert.equal(
      response.headers.get("content-type"),
      "application/json; charset=utf-8",
    );
    assert.equal(response.headers.get("cache-control"), "no-store");
    assert.deepEqual(await response.json(), {
      error: "invalid_grant",
      error_description: "Invalid username or password",
    });
  });

  await t.step("with a status of its own", async () => {
    const response = await app.fetch("/token-too-large", { method: "POST" });

    assert.equal(response.status, 413);
    assert.deepEqual(await response.json(), {
      error: "invalid_request",
      error_description: "Too large",
    });
  });
});

Deno.test("createApp() turns an unexpected exception into a 500 that leaks nothing", async (t) => {
  await using app = await openApp();

  await t.step("an Error", async () => {
    const response = await app.fetch("/crash", withRequestId("req-500"));

    assert.equal(response.status, 500);
    assert.equal(
      response.headers.get("content-type"),
      "application/problem+json",
    );
    assert.equal(response.headers.get("x-request-id"), "req-500");
    const text = await response.text();
    assert.deepEqual(JSON.parse(text), {
      type: "about:blank",
      title: "Internal Server Error",
      status: 500,
      detail: "Internal server error",
      request_id: "req-500",
    });
    for (const leak of ["/srv", "hunter2", "Cannot open", "at ", ".ts"]) {
      assert.equal(text.includes(leak), false, leak);
    }
  });

  await t.step("logs the error with its stack and the request id", () => {
    const errors = app.logger.lines.filter((line) => line.level === "error");

    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.message, "Request failed");
    assert.equal(errors[0]?.fields.request_id, "req-500");
    const logged = String(errors[0]?.fields.error);
    assert.ok(logged.startsWith("Error: Cannot open /srv/auth/data.kv"));
    assert.match(logged, /\n\s+at .*app_test\.ts/);
  });

  await t.step("a thrown value that is not an Error", async () => {
    const response = await app.fetch("/crash-string");

    assert.equal(response.status, 500);
    const body = await response.json();
    assert.equal(body.detail, "Internal server error");
    assert.equal(body.request_id, response.headers.get("x-request-id"));
    assert.equal(app.logger.lines.at(-2)?.fields.error, "a thrown string");
  });
});

Deno.test("createApp() logs the cause of a server-side HttpError", async () => {
  await using app = await openApp();

  const response = await app.fetch("/unavailable", withRequestId("req-503"));

  assert.equal(response.status, 503);
  const text = await response.text();
  assert.equal(JSON.parse(text).detail, "Store unavailable");
  assert.equal(text.includes("KV went away"), false);
  const errors = app.logger.lines.filter((line) => line.level === "error");
  assert.equal(errors.length, 1);
  assert.equal(errors[0]?.fields.request_id, "req-503");
  assert.match(String(errors[0]?.fields.error), /^Error: KV went away\n/);
});

Deno.test("createApp() logs a deliberate 5xx without a cause only in its request line", async (t) => {
  await using app = await openApp();

  await t.step("as problem details", async () => {
    const response = await app.fetch("/busy", { method: "POST" });

    assert.equal(response.status, 503);
    assert.equal(response.headers.get("retry-after"), "1");
    assert.equal((await response.json()).detail, "Busy, try again shortly");
  });

  await t.step("as an OAuth error", async () => {
    const response = await app.fetch("/token-busy", { method: "POST" });

    assert.equal(response.status, 503);
    assert.equal((await response.json()).error, "temporarily_unavailable");
  });

  await t.step("with no line but the request lines", () => {
    assert.deepEqual(
      app.logger.lines.map(({ level, message }) => ({ level, message })),
      [
        { level: "info", message: "request" },
        { level: "info", message: "request" },
      ],
    );
  });
});

/** Makes an account and a session in the store, for the session's token. */
async function liveAccessToken(app: TestApp, username: string) {
  const key = username.toLowerCase();
  await app.store.createUser(key, {
    username,
    passwordHash: "x",
    createdAt: 0,
    updatedAt: 0,
  });
  const entry = await app.store.getUser(key);
  assert.ok(entry);
  const pair = await app.sessions.start(username, {
    userVersion: entry.versionstamp,
  });
  return pair.accessToken;
}

Deno.test("createApp() logs one line per request without query or credentials", async () => {
  await using app = await openApp();
  const token = await liveAccessToken(app, "alice");

  const response = await app.fetch("/whoami?token=secret-query", {
    headers: { authorization: `Bearer ${token}`, "x-request-id": "req-1" },
  });
  await response.body?.cancel();

  assert.equal(app.logger.lines.length, 1);
  const [line] = app.logger.lines;
  assert.equal(line?.level, "info");
  assert.equal(line?.message, "request");
  const { ms, ...fields } = line?.fields ?? {};
  assert.deepEqual(fields, {
    request_id: "req-1",
    method: "GET",
    path: "/whoami",
    status: 200,
    user: "alice",
  });
  assert.equal(typeof ms, "number");
  const logged = JSON.stringify(app.logger.lines);
  assert.equal(logged.includes(token), false);
  assert.equal(logged.includes("secret-query"), false);
});

Deno.test("createApp() requires an access token on routes that need one", async (t) => {
  await using app = await openApp();

  await t.step(
    "none sent: 401 Not authenticated with a bare challenge",
    async () => {
      const response = await app.fetch("/whoami");

      assert.equal(response.status, 401);
      assert.equal(
        response.headers.get("www-authenticate"),
        'Bearer realm="auth"',
      );
      assert.equal((await response.json()).detail, "Not authenticated");
      assert.equal(app.logger.lines.at(-1)?.fields.user, undefined);
    },
  );

  await t.step("a valid one: the handler sees its claims", async () => {
    const token = await liveAccessToken(app, "alice");

    const response = await app.fetch("/whoami", bearer(token));

    assert.equal(response.status, 200);
    assert.equal(await response.json(), "alice");
  });

  await t.step("an expired one: 401 Token expired", async () => {
    const token = await app.tokens.signAccess("alice", "session-1");
    app.clock.advance(60_000);

    const response = await app.fetch("/whoami", bearer(token));

    assert.equal(response.status, 401);
    assert.equal(
      response.headers.get("www-authenticate"),
      'Bearer realm="auth", error="invalid_token", error_description="Token expired"',
    );
    assert.equal((await response.json()).detail, "Token expired");
  });

  await t.step("a refresh token: 401 Invalid token", async () => {
    const now = Math.floor(app.clock.now() / 1000);
    const refresh = await app.tokens.signRefresh({
      sub: "alice",
      sid: "session-1",
      jti: "jti",
      iat: now,
      exp: now + 3600,
      gen: 0,
    });

    const response = await app.fetch("/whoami", bearer(refresh));

    assert.equal(response.status, 401);
    assert.equal((await response.json()).detail, "Invalid token");
  });

  await t.step(
    "an access route refuses a signed token of no session",
    async () => {
      const token = await app.tokens.signAccess("alice", "no-such-session");

      const response = await app.fetch("/whoami", bearer(token));

      assert.equal(response.status, 401);
      assert.equal((await response.json()).detail, "Invalid token");
    },
  );

  await t.step(
    "a session route refuses a token whose session ended",
    async () => {
      const token = await app.tokens.signAccess("alice", "no-such-session");

      const response = await app.fetch("/live", bearer(token));

      assert.equal(response.status, 401);
      assert.equal((await response.json()).detail, "Invalid token");
    },
  );

  await t.step(
    "a session route accepts a token of a live session",
    async () => {
      const key = "alice";
      await app.store.createUser(key, {
        username: "Alice",
        passwordHash: "x",
        createdAt: 0,
        updatedAt: 0,
      });
      const entry = await app.store.getUser(key);
      assert.ok(entry);
      const pair = await app.sessions.start("Alice", {
        userVersion: entry.versionstamp,
      });

      const response = await app.fetch("/live", bearer(pair.accessToken));

      assert.equal(response.status, 200);
      assert.equal(await response.json(), "live");
    },
  );
});

Deno.test("createApp() answers HEAD with the GET answer, for the server to send without its body", async () => {
  await using app = await openApp();

  const response = await app.fetch("/ok", { method: "HEAD" });

  // tests/e2e_test.ts checks that the body stays off the wire.
  assert.equal(response.status, 200);
  assert.equal(
    response.headers.get("content-type"),
    "application/json; charset=utf-8",
  );
  assertCommonHeaders(response);
  assert.deepEqual(await response.json(), { ok: true });
});

Deno.test("the service's handler answers a signed-up user's /secret through the boundary", async () => {
  await using service = await openTestService();
  const { tokens } = await signUpAndLogIn(service);

  const response = await service.fetch("/secret", {
    headers: {
      authorization: `Bearer ${tokens.access_token}`,
      "x-request-id": "smoke-1",
    },
  });

  assert.equal(response.status, 200);
  assert.equal(response.headers.get("x-request-id"), "smoke-1");
  assertCommonHeaders(response);
  assert.equal(
    await response.json(),
    "Top Secret data only authorized users can access this info",
  );
});
