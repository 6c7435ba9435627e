import assert from "node:assert/strict";
import {
  assertInvalidFields,
  assertLoginRefused,
  assertNotAuthenticated,
  assertOAuthError,
  assertProblem,
  assertTokenPair,
  assertTokenRefused,
  type FieldError,
  JSON_TYPE,
  jwtClaims,
} from "./_assertions.ts";
import {
  bearer,
  createAccount,
  json,
  logIn,
  openTestService,
  PASSWORD,
  randomUsername,
  refresh,
  signUp,
  signUpAndLogIn,
  type TestService,
} from "./_helpers.ts";
import { stalled } from "./_openapi_cases.ts";

const FORM = "application/x-www-form-urlencoded";
const ILL_FORMED = "must be well-formed Unicode (no lone surrogates)";

// Names no account can have, too long for a store key as they come: NFKC
// makes each U+FDFA 18 characters, so the first is 1,260 characters long.
const OVERLONG_NAMES = ["\ufdfa".repeat(70), "a".repeat(2040)];

/** Request options for a body of any content type. */
function raw(body: BodyInit, type?: string): RequestInit {
  const headers: Record<string, string> = type ? { "content-type": type } : {};
  return { method: "POST", headers, body };
}

/** Request options for a body labelled JSON, whatever it holds. */
function rawJson(body: BodyInit): RequestInit {
  return raw(body, "application/json");
}

/** Request options for a form-encoded body. */
function form(fields: Record<string, string> | string[][]): RequestInit {
  return raw(new URLSearchParams(fields).toString(), FORM);
}

/** The same text in full-width letters, which NFKC folds back. */
function fullWidth(text: string): string {
  return text.replace(
    /[!-~]/g,
    (char) => String.fromCharCode(char.charCodeAt(0) + 0xfee0),
  );
}

/** A JSON body just over the 16 KiB limit. */
function oversizedBody(): string {
  return JSON.stringify({
    username: randomUsername(),
    password: "p".repeat(16 * 1024),
  });
}

/** A response's headers, sorted by name, without the one named. */
function headersBut(response: Response, name: string): [string, string][] {
  return [...response.headers].filter(([header]) => header !== name);
}

/** Asserts a 201 signup answer and returns the name it created. */
async function createdName(response: Response): Promise<string> {
  assert.equal(response.status, 201);
  assert.equal(response.headers.get("content-type"), JSON_TYPE);
  return (await response.json()).username;
}

// How the JSON routes refuse a body they cannot read. Each route still
// gets each check, since each reads its own body.
const NOT_UTF8 = [400, "Request body could not be read"] as const;
const NOT_JSON = [400, "Request body is not valid JSON"] as const;
const TOO_LARGE = [413, "Request body is larger than 16 KiB"] as const;
const NOT_LABELLED_JSON = [
  415,
  "Request body must be application/json",
] as const;

async function assertBodyRefused(
  service: TestService,
  path: string,
  init: RequestInit,
  [status, detail]: readonly [number, string],
): Promise<void> {
  await assertProblem(await service.fetch(path, init), status, detail);
}

/** Posts each body to `path` and asserts the 422 listing its fields. */
async function assertInvalidBodies(
  service: TestService,
  path: string,
  cases: [body: unknown, errors: FieldError[]][],
): Promise<void> {
  for (const [body, errors] of cases) {
    await assertInvalidFields(await service.fetch(path, json(body)), errors);
  }
}

Deno.test("POST /signup creates an account or says why not", async (t) => {
  await using service = await openTestService();

  /** Takes `taken`, then asserts that signing up as `again` answers 409. */
  async function assertTaken(taken: string, again: string, password?: string) {
    await createAccount(service, taken);
    const response = await signUp(service, again, password);
    await assertProblem(response, 409, "Account already exists");
  }

  await t.step(
    "answers 201 with the name as written and the creation time",
    async () => {
      const username = randomUsername("Alice");
      const response = await signUp(service, username);
      assert.equal(response.status, 201);
      assert.equal(response.headers.get("content-type"), JSON_TYPE);
      assert.deepEqual(await response.json(), {
        username,
        created_at: "2026-01-01T00:00:00.000Z",
      });
    },
  );

  await t.step("ignores fields it does not know", async () => {
    const username = randomUsername();
    const response = await service.fetch(
      "/signup",
      json({ username, password: PASSWORD, admin: true }),
    );
    assert.equal(await createdName(response), username);
  });

  await t.step("answers 409 for a name that is taken", async () => {
    const username = randomUsername();
    await assertTaken(username, username, "another password");
  });

  await t.step("answers 409 for a taken name in another case", async () => {
    const suffix = crypto.randomUUID().slice(0, 8);
    await assertTaken(`Alice_${suffix}`, `alice_${suffix}`);
  });

  await t.step(
    "answers 409 for a full-width look-alike of a taken name",
    async () => {
      const username = randomUsername("Bob");
      await assertTaken(username, fullWidth(username));
    },
  );

  await t.step(
    "returns a full-width name as it was written",
    async () => {
      const username = fullWidth(randomUsername("Wide"));
      assert.equal(
        await createdName(await signUp(service, username)),
        username,
      );
    },
  );

  await t.step(
    "answers 409 for a ligature look-alike of a taken name",
    async () => {
      const suffix = crypto.randomUUID().slice(0, 8);
      await assertTaken(`fiona_${suffix}`, `\ufb01ona_${suffix}`);
    },
  );

  await t.step(
    "answers 409 for a taken Greek name with its sigma in another case",
    async () => {
      // Upper case has one sigma, lower case two; both lower forms of "Σ"
      // name the same account.
      const suffix = crypto.randomUUID().slice(0, 8);
      await assertTaken(`ΟΔΟΣ_${suffix}`, `οδοσ_${suffix}`);
    },
  );

  await t.step("answers 400 for a body that is not JSON", async () => {
    const init = rawJson('{"username": "x",');
    await assertBodyRefused(service, "/signup", init, NOT_JSON);
  });

  await t.step("answers 400 for a body that is not UTF-8", async () => {
    const init = rawJson(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]));
    await assertBodyRefused(service, "/signup", init, NOT_UTF8);
  });

  await t.step("answers 413 for a body over 16 KiB", async () => {
    const init = rawJson(oversizedBody());
    await assertBodyRefused(service, "/signup", init, TOO_LARGE);
  });

  await t.step("answers 415 for a body that is not labelled JSON", async () => {
    const body = JSON.stringify({
      username: randomUsername(),
      password: PASSWORD,
    });
    for (const init of [raw(body, "text/plain"), raw(body)]) {
      await assertBodyRefused(service, "/signup", init, NOT_LABELLED_JSON);
    }
  });

  await t.step("answers 422 for a password under 8 characters", async () => {
    const response = await signUp(service, randomUsername(), "1234567");
    await assertInvalidFields(response, [
      { field: "password", message: "must be at least 8 characters" },
    ]);
  });

  await t.step(
    "answers 422 for a password over 72 bytes instead of cutting it",
    async () => {
      // "€" x 25 is 25 characters, but 75 bytes: the limit is bcrypt's, in
      // bytes.
      for (const password of ["p".repeat(73), "€".repeat(25)]) {
        const response = await signUp(service, randomUsername(), password);
        await assertInvalidFields(response, [
          { field: "password", message: "must be at most 72 bytes of UTF-8" },
        ]);
      }
    },
  );

  await t.step("accepts a password of exactly 72 bytes", async () => {
    const username = randomUsername();
    const password = "p".repeat(72);
    const response = await signUp(service, username, password);
    assert.equal(response.status, 201);
    await response.body?.cancel();
    await assertTokenPair(await logIn(service, username, password));
  });

  await t.step(
    "answers 422 for a name with white space, control or invisible characters",
    async () => {
      const names = [
        "al ice",
        "al\tice",
        "al\u0007ice",
        "al\u200bice",
        " ",
        "\u3164",
        "\u2800",
        "\u115f\u1160",
        "\uffa0",
        "al\u200dice",
        "alice\ufe0f",
        "alice\ufffe",
      ];
      for (const username of names) {
        const response = await signUp(service, username);
        await assertInvalidFields(response, [{
          field: "username",
          message:
            "must not contain white space, control or invisible characters",
        }]);
      }
    },
  );

  await t.step(
    "answers 422 for a name with a lone surrogate, not 409 for its look-alike",
    async () => {
      const base = randomUsername();
      const replaced = await signUp(service, `${base}\ufffd`);
      assert.equal(replaced.status, 201);
      await replaced.body?.cancel();
      for (const username of [`${base}\ud800`, `${base}\udfff`]) {
        const response = await signUp(service, username);
        await assertInvalidFields(response, [
          { field: "username", message: ILL_FORMED },
        ]);
      }
    },
  );

  await t.step("answers 422 for a password with a lone surrogate", async () => {
    for (const password of [`${PASSWORD}\ud800`, `\udc00${PASSWORD}`]) {
      const response = await signUp(service, randomUsername(), password);
      await assertInvalidFields(response, [
        { field: "password", message: ILL_FORMED },
      ]);
    }
  });

  await t.step(
    "answers 422 for a name of 65 characters and accepts 64",
    async () => {
      const long = await signUp(service, "a".repeat(65));
      await assertInvalidFields(long, [
        { field: "username", message: "must be at most 64 characters" },
      ]);
      const username = `${randomUsername()}_`.padEnd(64, "x");
      assert.equal(
        await createdName(await signUp(service, username)),
        username,
      );
    },
  );

  await t.step(
    "answers 422 for a name NFKC or its own length makes far too long",
    async () => {
      for (const username of OVERLONG_NAMES) {
        await assertInvalidFields(await signUp(service, username), [
          { field: "username", message: "must be at most 64 characters" },
        ]);
      }
    },
  );

  await t.step(
    "accepts 64 characters that each grow to two in the stored key",
    async () => {
      // Upper- then lower-casing turns U+1F88 into U+1F00 U+03B9, 5 bytes
      // of UTF-8: no character makes more, so no valid name a longer key.
      const username = "\u1f88".repeat(64);
      assert.equal(
        await createdName(await signUp(service, username)),
        username,
      );
      await assertTokenPair(await logIn(service, username, PASSWORD));
    },
  );

  await t.step("answers 422 for an empty name", async () => {
    await assertInvalidFields(await signUp(service, ""), [
      { field: "username", message: "must not be empty" },
    ]);
  });

  await t.step(
    "answers 422 for fields of the wrong type or missing",
    async () => {
      await assertInvalidBodies(service, "/signup", [
        [{ username: 42, password: null }, [
          { field: "username", message: "must be a string" },
          { field: "password", message: "must be a string" },
        ]],
        [{}, [
          { field: "username", message: "is required" },
          { field: "password", message: "is required" },
        ]],
        [[], [{ field: "body", message: "must be a JSON object" }]],
      ]);
    },
  );
});

Deno.test("POST /login hands out a token pair for the right password only", async (t) => {
  await using service = await openTestService();
  const username = randomUsername("Carol");
  await createAccount(service, username);

  /** Logs in as an unknown name, then as `username` with a wrong password. */
  async function unknownAndWrong(): Promise<[Response, Response]> {
    return [
      await logIn(service, randomUsername(), PASSWORD),
      await logIn(service, username, "wrong password"),
    ];
  }

  await t.step(
    "answers 200 with a token pair that is not to be cached",
    async () => {
      const pair = await assertTokenPair(
        await logIn(service, username, PASSWORD),
      );
      assert.equal(jwtClaims(pair.access_token).sub, username);
      assert.equal(jwtClaims(pair.access_token).token_use, "access");
      assert.equal(jwtClaims(pair.refresh_token).token_use, "refresh");
    },
  );

  await t.step(
    "accepts the name in another case and keeps it as first written",
    async () => {
      const pair = await assertTokenPair(
        await logIn(service, username.toUpperCase(), PASSWORD),
      );
      const me = await service.fetch("/me", bearer(pair.access_token));
      assert.equal(me.status, 200);
      assert.equal(me.headers.get("content-type"), JSON_TYPE);
      assert.equal((await me.json()).username, username);
    },
  );

  await t.step(
    "answers 401 alike for an unknown name and a wrong password",
    async () => {
      const [unknown, wrong] = await unknownAndWrong();
      const challenge = unknown.headers.get("www-authenticate");
      assert.equal(wrong.headers.get("www-authenticate"), challenge);
      const unknownBody = await unknown.clone().json();
      assert.deepEqual(await wrong.clone().json(), unknownBody);
      await assertLoginRefused(unknown);
      await assertLoginRefused(wrong);
    },
  );

  await t.step(
    "answers an unknown name and a wrong password with the same bytes and headers",
    async () => {
      const [unknown, wrong] = await unknownAndWrong();
      assert.equal(unknown.status, 401);
      assert.equal(wrong.status, 401);
      assert.deepEqual(
        headersBut(wrong, "x-request-id"),
        headersBut(unknown, "x-request-id"),
      );
      assert.deepEqual(
        new Uint8Array(await wrong.arrayBuffer()),
        new Uint8Array(await unknown.arrayBuffer()),
      );
    },
  );

  await t.step(
    "answers 401 for a password over 72 bytes whose first 72 match",
    async () => {
      const name = randomUsername();
      const password = "q".repeat(72);
      await createAccount(service, name, password);
      await assertLoginRefused(
        await logIn(service, name, `${password}extra`),
      );
    },
  );

  await t.step(
    "answers 401 for a name with a lone surrogate that stands for a real one",
    async () => {
      const base = randomUsername();
      await createAccount(service, `${base}\ufffd`);
      for (const name of [`${base}\ud800`, `${base}\udfff`]) {
        await assertLoginRefused(await logIn(service, name, PASSWORD));
      }
    },
  );

  await t.step(
    "answers a name too long to be anyone's as an unknown name, byte for byte",
    async () => {
      for (const name of OVERLONG_NAMES) {
        const unknown = await logIn(service, randomUsername(), PASSWORD);
        const long = await logIn(service, name, PASSWORD);
        await assertLoginRefused(long.clone());
        assert.deepEqual(
          headersBut(long, "x-request-id"),
          headersBut(unknown, "x-request-id"),
        );
        assert.deepEqual(
          new Uint8Array(await long.arrayBuffer()),
          new Uint8Array(await unknown.arrayBuffer()),
        );
      }
    },
  );

  await t.step(
    "answers 401 for a password with a lone surrogate in place of U+FFFD",
    async () => {
      const name = randomUsername();
      await createAccount(service, name, `${PASSWORD}\ufffd`);
      await assertLoginRefused(
        await logIn(service, name, `${PASSWORD}\ud800`),
      );
      await assertTokenPair(await logIn(service, name, `${PASSWORD}\ufffd`));
    },
  );

  await t.step("answers 400 for a body that is not JSON", async () => {
    await assertBodyRefused(service, "/login", rawJson("{"), NOT_JSON);
  });

  await t.step("answers 413 for a body over 16 KiB", async () => {
    const init = rawJson(oversizedBody());
    await assertBodyRefused(service, "/login", init, TOO_LARGE);
  });

  await t.step("answers 415 for a form-encoded body", async () => {
    const init = form({ username, password: PASSWORD });
    await assertBodyRefused(service, "/login", init, NOT_LABELLED_JSON);
  });

  await t.step(
    "answers 422 for missing, empty or mistyped fields",
    async () => {
      await assertInvalidBodies(service, "/login", [
        [{ username }, [{ field: "password", message: "is required" }]],
        [{ username: "", password: PASSWORD }, [
          { field: "username", message: "must not be empty" },
        ]],
        [{ username, password: 12345678 }, [
          { field: "password", message: "must be a string" },
        ]],
      ]);
    },
  );
});

/**
 * The cases GET and POST /refresh_token share: they take the token in
 * different places, and must answer it alike once they have it.
 */
async function sharedRefreshSteps(
  t: Deno.TestContext,
  service: TestService,
  send: (refreshToken: string) => RequestInit,
): Promise<void> {
  const exchange = (token: string) =>
    service.fetch("/refresh_token", send(token));

  await t.step(
    "answers 200 with a new pair that is not to be cached",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      const pair = await assertTokenPair(await exchange(tokens.refresh_token));
      assert.notEqual(pair.refresh_token, tokens.refresh_token);
      assert.notEqual(pair.access_token, tokens.access_token);
      const secret = await service.fetch("/secret", bearer(pair.access_token));
      assert.equal(secret.status, 200);
      await secret.body?.cancel();
    },
  );

  await t.step(
    "answers 401 Invalid refresh token for an access token",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      await assertTokenRefused(
        await exchange(tokens.access_token),
        "Invalid refresh token",
      );
    },
  );
}

Deno.test("GET /refresh_token exchanges a Bearer refresh token for a new pair", async (t) => {
  await using service = await openTestService();

  await sharedRefreshSteps(t, service, (token) => bearer(token));

  await t.step(
    "answers 401 Not authenticated without an Authorization header",
    async () => {
      await assertNotAuthenticated(await service.fetch("/refresh_token"));
    },
  );

  await t.step(
    "answers 401 Invalid refresh token for a token it did not issue",
    async () => {
      await assertTokenRefused(
        await refresh(service, "abc.def.ghi"),
        "Invalid refresh token",
      );
    },
  );

  await t.step(
    "answers 401 Refresh token reused for a rotated token",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      await assertTokenPair(await refresh(service, tokens.refresh_token));
      service.clock.advance(service.config.refreshReuseIntervalMs);
      await assertTokenRefused(
        await refresh(service, tokens.refresh_token),
        "Refresh token reused",
      );
    },
  );

  await t.step(
    "refuses HEAD with 405, leaving the refresh token unrotated",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      const head = await service.fetch(
        "/refresh_token",
        bearer(tokens.refresh_token, "HEAD"),
      );
      assert.equal(head.status, 405);
      assert.equal(head.headers.get("allow"), "GET, POST, OPTIONS");
      await head.body?.cancel();
      service.clock.advance(service.config.refreshReuseIntervalMs);
      await assertTokenPair(await refresh(service, tokens.refresh_token));
    },
  );

  await t.step(
    "answers 401 Refresh token expired after its lifetime",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      service.clock.advance(service.config.refreshTokenTtlMs);
      await assertTokenRefused(
        await refresh(service, tokens.refresh_token),
        "Refresh token expired",
      );
    },
  );
});

Deno.test("POST /refresh_token exchanges a refresh token in the body for a new pair", async (t) => {
  await using service = await openTestService();

  await sharedRefreshSteps(
    t,
    service,
    (token) => json({ refresh_token: token }),
  );

  await t.step("answers 400 for a body that is not JSON", async () => {
    const init = rawJson("refresh_token");
    await assertBodyRefused(service, "/refresh_token", init, NOT_JSON);
  });

  await t.step("answers 413 for a body over 16 KiB", async () => {
    const init = json({ refresh_token: "r".repeat(16 * 1024) });
    await assertBodyRefused(service, "/refresh_token", init, TOO_LARGE);
  });

  await t.step("answers 415 for a body that is not labelled JSON", async () => {
    const { tokens } = await signUpAndLogIn(service);
    const init = form({ refresh_token: tokens.refresh_token });
    await assertBodyRefused(service, "/refresh_token", init, NOT_LABELLED_JSON);
  });

  await t.step(
    "answers 422 for a missing or mistyped refresh_token",
    async () => {
      await assertInvalidBodies(service, "/refresh_token", [
        [{}, [{ field: "refresh_token", message: "is required" }]],
        [{ refresh_token: 7 }, [
          { field: "refresh_token", message: "must be a string" },
        ]],
      ]);
    },
  );
});

Deno.test("POST /token grants tokens and fails in the OAuth 2.0 error form", async (t) => {
  await using service = await openTestService();
  const { username, password } = await signUpAndLogIn(service);

  async function token(fields: Record<string, string>, type = FORM) {
    const init = type === FORM
      ? form(fields)
      : raw(JSON.stringify(fields), type);
    return await service.fetch("/token", init);
  }

  function passwordGrant(name: string, secret: string): Record<string, string> {
    return { grant_type: "password", username: name, password: secret };
  }

  function refreshGrant(refreshToken: string): Record<string, string> {
    return { grant_type: "refresh_token", refresh_token: refreshToken };
  }

  async function assertGrantRefused(response: Response): Promise<void> {
    await assertOAuthError(
      response,
      "invalid_grant",
      "Invalid username or password",
    );
  }

  /** Posts each request to /token and asserts the invalid_request it gets. */
  async function assertInvalidRequests(cases: [RequestInit, string][]) {
    for (const [init, description] of cases) {
      const response = await service.fetch("/token", init);
      await assertOAuthError(response, "invalid_request", description);
    }
  }

  await t.step("answers 200 to a form-encoded password grant", async () => {
    const pair = await assertTokenPair(
      await token(passwordGrant(username, password)),
    );
    assert.equal(jwtClaims(pair.access_token).sub, username);
  });

  await t.step("answers 200 to a JSON password grant", async () => {
    const grant = passwordGrant(username, password);
    await assertTokenPair(await token(grant, "application/json"));
  });

  await t.step(
    "answers 200 to a form-encoded refresh_token grant and rotates",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      const pair = await assertTokenPair(
        await token(refreshGrant(tokens.refresh_token)),
      );
      assert.notEqual(pair.refresh_token, tokens.refresh_token);
      await assertTokenPair(await token(refreshGrant(pair.refresh_token)));
    },
  );

  await t.step("answers 200 to a JSON refresh_token grant", async () => {
    const { tokens } = await signUpAndLogIn(service);
    const response = await token(
      refreshGrant(tokens.refresh_token),
      "application/json",
    );
    await assertTokenPair(response);
  });

  await t.step("answers invalid_request without grant_type", async () => {
    await assertInvalidRequests([
      [form({ username, password }), "grant_type is needed"],
    ]);
  });

  await t.step(
    "answers invalid_request for a grant without its fields",
    async () => {
      await assertInvalidRequests([
        [
          form({ grant_type: "password", username }),
          "username and password needed",
        ],
        [form({ grant_type: "refresh_token" }), "refresh_token is needed"],
      ]);
    },
  );

  await t.step(
    "answers invalid_request for a malformed or mistyped JSON body",
    async () => {
      await assertInvalidRequests([
        [rawJson("{"), "Request body is not valid JSON"],
        [
          json({ grant_type: "password", username: 5, password }),
          "Request body is invalid",
        ],
      ]);
    },
  );

  await t.step(
    "answers 413 invalid_request for a body over 16 KiB, form or JSON",
    async () => {
      const grant = passwordGrant(username, "p".repeat(16 * 1024));
      for (const type of [FORM, "application/json"]) {
        await assertOAuthError(
          await token(grant, type),
          "invalid_request",
          "Request body is larger than 16 KiB",
          413,
        );
      }
    },
  );

  await t.step(
    "answers 415 invalid_request for a body of another type or none",
    async () => {
      const otherType = `Request body must be application/json or ${FORM}`;
      for (const type of ["text/plain", undefined]) {
        await assertOAuthError(
          await service.fetch("/token", raw("grant_type=password", type)),
          "invalid_request",
          otherType,
          415,
        );
      }
    },
  );

  await t.step(
    "answers 408 invalid_request, closing, for a body that does not arrive",
    async () => {
      const response = await stalled((body) =>
        service.fetch("/token", raw(body, FORM))
      );
      assert.equal(response.headers.get("connection"), "close");
      await assertOAuthError(
        response,
        "invalid_request",
        "Request body was not received in time",
        408,
      );
    },
  );

  await t.step(
    "answers 400 invalid_request for a body that is not UTF-8",
    async () => {
      await assertInvalidRequests([
        [
          raw(new Uint8Array([0x61, 0x3d, 0xff]), FORM),
          "Request body could not be read",
        ],
      ]);
    },
  );

  await t.step(
    "answers 400 invalid_request for a parameter given twice",
    async () => {
      // RFC 6749 section 3.2: parameters must not be included more than
      // once, or the service and whatever sits before it may read
      // different values.
      await assertInvalidRequests([
        [
          form([
            ["grant_type", "password"],
            ["username", username],
            ["password", "wrong password"],
            ["password", password],
          ]),
          "Request body repeats 'password'",
        ],
        [
          form([
            ["grant_type", "refresh_token"],
            ["grant_type", "password"],
            ["username", username],
            ["password", password],
          ]),
          "Request body repeats 'grant_type'",
        ],
        // RFC 6749 section 5.2: the description stays within printable
        // ASCII.
        [
          raw("grant_type=password&p%C3%A4ss%5C=1&p%C3%A4ss%5C=2", FORM),
          "Request body repeats 'p?ss?'",
        ],
      ]);
    },
  );

  await t.step(
    "answers invalid_grant for a name with a lone surrogate",
    async () => {
      const grant = passwordGrant(`${username}\ud800`, password);
      await assertGrantRefused(await token(grant, "application/json"));
    },
  );

  await t.step(
    "answers invalid_grant for a name too long to be anyone's",
    async () => {
      for (const name of OVERLONG_NAMES) {
        const grant = passwordGrant(name, password);
        await assertGrantRefused(await token(grant));
        await assertGrantRefused(await token(grant, "application/json"));
      }
    },
  );

  await t.step("answers unsupported_grant_type for another grant", async () => {
    const response = await token({ grant_type: "client_credentials" });
    await assertOAuthError(
      response,
      "unsupported_grant_type",
      "grant_type must be password or refresh_token",
    );
  });

  await t.step(
    "answers invalid_grant alike for a wrong password and an unknown name",
    async () => {
      const wrong = await token(passwordGrant(username, "wrong password"));
      assert.equal(wrong.headers.get("www-authenticate"), null);
      await assertGrantRefused(wrong);
      const unknown = await token(passwordGrant(randomUsername(), password));
      await assertGrantRefused(unknown);
    },
  );

  await t.step(
    "answers invalid_grant for a bad, reused or mistaken refresh token",
    async () => {
      const junk = await token(refreshGrant("abc.def.ghi"));
      await assertOAuthError(junk, "invalid_grant", "Invalid refresh token");
      const { tokens } = await signUpAndLogIn(service);
      const access = await token(refreshGrant(tokens.access_token));
      await assertOAuthError(access, "invalid_grant", "Invalid refresh token");
      await assertTokenPair(await token(refreshGrant(tokens.refresh_token)));
      service.clock.advance(service.config.refreshReuseIntervalMs);
      const reused = await token(refreshGrant(tokens.refresh_token));
      await assertOAuthError(reused, "invalid_grant", "Refresh token reused");
    },
  );
});
