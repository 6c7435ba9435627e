import assert from "node:assert/strict";
import { assertTokenPair, JSON_TYPE } from "./_assertions.ts";
import {
  bearer,
  json,
  openTestService,
  randomUsername,
  type TestService,
} from "./_helpers.ts";
import { type LogLevel, parseConfig } from "../src/config.ts";
import { createLogger, type Logger } from "../src/log.ts";
import type { PasswordHasher } from "../src/passwords.ts";

const PASSWORD = "correct horse battery";
const UUID =
  /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const REQUEST_KEYS = [
  "level",
  "method",
  "ms",
  "msg",
  "path",
  "request_id",
  "status",
  "time",
];

type LogRecord = Record<string, unknown>;

/** A real logger whose finished lines land in an array. */
function captureLog(level?: LogLevel): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({
    ...(level ? { level } : {}),
    write: (line) => lines.push(line),
  });
  return Object.assign(logger, { lines });
}

function records(lines: readonly string[]): LogRecord[] {
  return lines.map((line) => JSON.parse(line));
}

/**
 * Sends a request and returns its answer with the log lines it caused;
 * the body is read, so the line is complete.
 */
async function logged(
  service: TestService,
  log: { lines: string[] },
  path: string,
  init?: RequestInit,
): Promise<{ response: Response; body: string; lines: LogRecord[] }> {
  const before = log.lines.length;
  const response = await service.fetch(path, init);
  const body = await response.text();
  return { response, body, lines: records(log.lines.slice(before)) };
}

/** Asserts the one request line and returns it. */
function assertRequestLine(
  lines: LogRecord[],
  expected: { method: string; path: string; status: number; user?: string },
  response: Response,
): LogRecord {
  assert.equal(lines.length, 1, JSON.stringify(lines));
  const [line] = lines;
  assert.ok(line);
  const keys = expected.user ? [...REQUEST_KEYS, "user"].sort() : REQUEST_KEYS;
  assert.deepEqual(Object.keys(line).sort(), keys);
  assert.equal(line.level, "info");
  assert.equal(line.msg, "request");
  assert.equal(line.method, expected.method);
  assert.equal(line.path, expected.path);
  assert.equal(line.status, expected.status);
  assert.equal(line.user, expected.user);
  assert.equal(line.request_id, response.headers.get("x-request-id"));
  assert.equal(typeof line.ms, "number");
  assert.ok(Number(line.ms) >= 0);
  assert.ok(!Number.isNaN(Date.parse(String(line.time))));
  return line;
}

function assertNoneContains(lines: readonly string[], secrets: string[]) {
  for (const line of lines) {
    for (const secret of secrets) {
      assert.equal(line.includes(secret), false, `${secret} in ${line}`);
    }
  }
}

function signingSecret(service: TestService): string {
  return new TextDecoder().decode(service.config.secret);
}

Deno.test("The service logs one line per request, without query or credentials", async (t) => {
  const log = captureLog();
  await using service = await openTestService({ logger: log });
  const username = randomUsername();
  const tokens: string[] = [];
  let access = "";
  let refresh = "";

  await t.step("POST /signup with ?password= in the URL", async () => {
    const { response, lines } = await logged(
      service,
      log,
      `/signup?password=${encodeURIComponent(PASSWORD)}`,
      json({ username, password: PASSWORD }),
    );

    assert.equal(response.status, 201);
    assertRequestLine(
      lines,
      { method: "POST", path: "/signup", status: 201 },
      response,
    );
  });

  await t.step("POST /login", async () => {
    const before = log.lines.length;
    const response = await service.fetch(
      "/login",
      json({ username, password: PASSWORD }),
    );
    const pair = await assertTokenPair(response);
    access = pair.access_token;
    refresh = pair.refresh_token;
    tokens.push(access, refresh);

    assertRequestLine(
      records(log.lines.slice(before)),
      { method: "POST", path: "/login", status: 200 },
      response,
    );
  });

  await t.step("GET /refresh_token with the refresh token", async () => {
    const before = log.lines.length;
    const response = await service.fetch("/refresh_token", bearer(refresh));
    const pair = await assertTokenPair(response);
    access = pair.access_token;
    tokens.push(pair.access_token, pair.refresh_token);

    // The refresh route reads its token itself; only an access token
    // checked at the boundary names the user.
    assertRequestLine(
      records(log.lines.slice(before)),
      { method: "GET", path: "/refresh_token", status: 200 },
      response,
    );
  });

  await t.step(
    "POST /secret with the access token and ?access_token= in the URL",
    async () => {
      const { response, lines } = await logged(
        service,
        log,
        `/secret?access_token=${access}`,
        bearer(access, "POST"),
      );

      assert.equal(response.status, 200);
      assertRequestLine(
        lines,
        { method: "POST", path: "/secret", status: 200, user: username },
        response,
      );
    },
  );

  await t.step("GET /secret with a token that names no one", async () => {
    const { response, lines } = await logged(
      service,
      log,
      "/secret",
      bearer(`${access.slice(0, -4)}AAAA`),
    );

    assert.equal(response.status, 401);
    assertRequestLine(
      lines,
      { method: "GET", path: "/secret", status: 401 },
      response,
    );
  });

  await t.step("GET /login?password=: 405, path only", async () => {
    const { response, lines } = await logged(
      service,
      log,
      `/login?username=${username}&password=${encodeURIComponent(PASSWORD)}`,
    );

    assert.equal(response.status, 405);
    assertRequestLine(
      lines,
      { method: "GET", path: "/login", status: 405 },
      response,
    );
  });

  await t.step("no line holds a password, token, hash or the secret", () => {
    assert.equal(tokens.length, 4);
    assertNoneContains(log.lines, [
      PASSWORD,
      encodeURIComponent(PASSWORD),
      ...tokens,
      ...tokens.map((token) => token.split(".")[2] ?? token),
      "$2b$",
      "$2a$",
      signingSecret(service),
    ]);
    assert.deepEqual(
      records(log.lines).filter((line) => line.level !== "info"),
      [],
    );
  });
});

/** A hasher whose every call fails with `message`. */
function failingHasher(message: string): PasswordHasher {
  return {
    hash: () => Promise.reject(new Error(message)),
    verify: () => Promise.reject(new Error(message)),
  };
}

Deno.test("A failing request answers 500 with its request id and no secret", async (t) => {
  await t.step("the answer, its request line and its error line", async () => {
    const log = captureLog();
    await using service = await openTestService({
      logger: log,
      hasher: failingHasher("bcrypt ran out of memory"),
    });

    const { response, body, lines } = await logged(service, log, "/signup", {
      ...json({ username: randomUsername(), password: PASSWORD }),
      headers: {
        "content-type": "application/json",
        "x-request-id": "abc-123",
      },
    });

    assert.equal(response.status, 500);
    assert.equal(response.headers.get("x-request-id"), "abc-123");
    assert.equal(
      response.headers.get("content-type"),
      "application/problem+json",
    );
    assert.deepEqual(JSON.parse(body), {
      type: "about:blank",
      title: "Internal Server Error",
      status: 500,
      detail: "Internal server error",
      request_id: "abc-123",
    });
    assert.equal(lines.length, 2);
    const [failure, request] = lines;
    assert.equal(failure?.level, "error");
    assert.equal(failure?.msg, "Request failed");
    assert.equal(failure?.request_id, "abc-123");
    assert.match(
      String(failure?.error),
      /^Error: bcrypt ran out of memory\n\s+at /,
    );
    assert.equal(
      assertRequestLine([request ?? {}], {
        method: "POST",
        path: "/signup",
        status: 500,
      }, response).request_id,
      "abc-123",
    );
    assertNoneContains(log.lines, [PASSWORD, "$2b$", signingSecret(service)]);
  });

  await t.step(
    "at /token: the OAuth 2.0 form, and the error line as anywhere",
    async () => {
      const log = captureLog();
      await using service = await openTestService({
        logger: log,
        hasher: failingHasher("bcrypt ran out of memory"),
      });
      const fields = {
        grant_type: "password",
        username: randomUsername(),
        password: PASSWORD,
      };

      const { response, body, lines } = await logged(service, log, "/token", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(fields).toString(),
      });

      assert.equal(response.status, 500);
      assert.equal(response.headers.get("content-type"), JSON_TYPE);
      assert.equal(response.headers.get("cache-control"), "no-store");
      assert.deepEqual(JSON.parse(body), {
        error: "server_error",
        error_description: "Internal server error",
      });
      const [failure, request] = lines;
      assert.equal(failure?.level, "error");
      assert.equal(failure?.msg, "Request failed");
      assert.equal(failure?.request_id, response.headers.get("x-request-id"));
      assert.match(
        String(failure?.error),
        /^Error: bcrypt ran out of memory\n\s+at /,
      );
      assertRequestLine([request ?? {}], {
        method: "POST",
        path: "/token",
        status: 500,
      }, response);
      assertNoneContains(log.lines, [PASSWORD, "$2b$", signingSecret(service)]);
    },
  );

  await t.step("an error whose message holds the password", async () => {
    const log = captureLog();
    const leaky = `Cannot hash "${PASSWORD}"`;
    await using service = await openTestService({
      logger: log,
      hasher: failingHasher(leaky),
    });

    const { response, body, lines } = await logged(
      service,
      log,
      "/login",
      json({ username: randomUsername(), password: PASSWORD }),
    );

    assert.equal(response.status, 500);
    assert.equal(body.includes(PASSWORD), false);
    assert.equal(JSON.parse(body).detail, "Internal server error");
    const [failure, request] = lines;
    assert.equal(JSON.stringify(request).includes(PASSWORD), false);
    // The error line keeps the thrown message as it is: the boundary
    // cannot tell which part of a foreign message is a secret, so keeping
    // secrets out of messages is the job of the code that throws.
    assert.ok(String(failure?.error).includes(leaky));
  });
});

Deno.test("The service keeps a sane X-Request-Id and replaces any other", async (t) => {
  const log = captureLog();
  await using service = await openTestService({ logger: log });

  for (const id of ["abc-123", "a.b:c_d", "x".repeat(128)]) {
    await t.step(
      `kept: ${id.length > 20 ? "128 characters" : id}`,
      async () => {
        const { response, lines } = await logged(service, log, "/notsecret", {
          headers: { "x-request-id": id },
        });

        assert.equal(response.headers.get("x-request-id"), id);
        const line = assertRequestLine(
          lines,
          { method: "GET", path: "/notsecret", status: 200 },
          response,
        );
        assert.equal(line.request_id, id);
      },
    );
  }

  const insane: [string, string][] = [
    ["129 characters", "x".repeat(129)],
    ["a space", "abc 123"],
    ["non-ASCII", "caf\u00e9"],
    ["a quote", 'abc"123'],
    ["a line-breaking escape", "abc\\n123"],
  ];
  for (const [name, id] of insane) {
    await t.step(`replaced: ${name}`, async () => {
      const { response, lines } = await logged(service, log, "/notsecret", {
        headers: { "x-request-id": id },
      });

      const given = response.headers.get("x-request-id") ?? "";
      assert.match(given, UUID);
      const line = assertRequestLine(
        lines,
        { method: "GET", path: "/notsecret", status: 200 },
        response,
      );
      assert.equal(line.request_id, given);
      assert.equal(log.lines.at(-1)?.includes(id), false);
    });
  }
});

Deno.test("LOG_LEVEL=warn leaves out request lines but keeps server errors", async () => {
  const { logLevel } = parseConfig({ LOG_LEVEL: "warn" });
  const log = captureLog(logLevel);
  await using service = await openTestService({
    logger: log,
    hasher: failingHasher("bcrypt ran out of memory"),
  });

  const ok = await service.fetch("/notsecret");
  await ok.body?.cancel();
  const missing = await service.fetch("/nowhere");
  await missing.body?.cancel();
  const failed = await service.fetch(
    "/signup",
    json({ username: randomUsername(), password: PASSWORD }),
  );
  await failed.body?.cancel();

  assert.deepEqual([ok.status, missing.status, failed.status], [200, 404, 500]);
  assert.deepEqual(
    records(log.lines).map((line) => [line.level, line.msg]),
    [["error", "Request failed"]],
  );
});
