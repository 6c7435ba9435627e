import assert from "node:assert/strict";
import {
  assertInvalidFields,
  assertOAuthError,
  assertProblem,
  assertTokenPair,
  assertUnauthorized,
  JSON_TYPE,
  jwtClaims,
} from "./_assertions.ts";
import {
  bearer,
  json,
  openTestService,
  randomUsername,
  signUpAndLogIn,
  type TestService,
} from "./_helpers.ts";

const PASSWORD = "correct horse battery";
const FORM = "application/x-www-form-urlencoded";
const ILL_FORMED = "must be well-formed Unicode (no lone surrogates)";

/** Request options for a body of any content type. */
function raw(body: BodyInit, type?: string): RequestInit {
  const headers: Record<string, string> = type ? { "content-type": type } : {};
  return { method: "POST", headers, body };
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

async function signUp(
  service: TestService,
  username: string,
  password = PASSWORD,
): Promise<Response> {
  return await service.fetch("/signup", json({ username, password }));
}

Deno.test("POST /signup creates an account or says why not", async (t) => {
  await using service = await openTestService();

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
    assert.equal(response.status, 201);
    assert.equal(response.headers.get("content-type"), JSON_TYPE);
    assert.equal((await response.json()).username, username);
  });

  await t.step("answers 409 for a name that is taken", async () => {
    const username = randomUsername();
    await (await signUp(service, username)).body?.cancel();
    const response = await signUp(service, username, "another password");
    await assertProblem(response, 409, "Account already exists");
  });

  await t.step("answers 409 for a taken name in another case", async () => {
    const suffix = crypto.randomUUID().slice(0, 8);
    await (await signUp(service, `Alice_${suffix}`)).body?.cancel();
    const response = await signUp(service, `alice_${suffix}`);
    await assertProblem(response, 409, "Account already exists");
  });

  await t.step(
    "answers 409 for a full-width look-alike of a taken name",
    async () => {
      const username = randomUsername("Bob");
      await (await signUp(service, username)).body?.cancel();
      const response = await signUp(service, fullWidth(username));
      await assertProblem(response, 409, "Account already exists");
    },
  );

  await t.step(
    "returns a full-width name as it was written",
    async () => {
      const username = fullWidth(randomUsername("Wide"));
      const response = await signUp(service, username);
      assert.equal(response.status, 201);
      assert.equal((await response.json()).username, username);
    },
  );

  await t.step(
    "answers 409 for a ligature look-alike of a taken name",
    async () => {
      const suffix = crypto.randomUUID().slice(0, 8);
      await (await signUp(service, `fiona_${suffix}`)).body?.cancel();
      const response = await signUp(service, `\ufb01ona_${suffix}`);
      await assertProblem(response, 409, "Account already exists");
    },
  );

  await t.step(
    "answers 409 for a taken Greek name with its sigma in another case",
    async () => {
      // Upper case has one sigma, lower case two; both lower forms of "Σ"
      // name the same account.
      const suffix = crypto.randomUUID().slice(0, 8);
      await (await signUp(service, `ΟΔΟΣ_${suffix}`)).body?.cancel();
      const response = await signUp(service, `οδοσ_${suffix}`);
      await assertProblem(response, 409, "Account already exists");
    },
  );

  await t.step("answers 400 for a body that is not JSON", async () => {
    const response = await service.fetch(
      "/signup",
      raw('{"username": "x",', "application/json"),
    );
    await assertProblem(response, 400, "Request body is not valid JSON");
  });

  await t.step("answers 400 for a body that is not UTF-8", async () => {
    const response = await service.fetch(
      "/signup",
      raw(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), "application/json"),
    );
    await assertProblem(response, 400, "Request body could not be read");
  });

  await t.step("answers 413 for a body over 16 KiB", async () => {
    const response = await service.fetch(
      "/signup",
      raw(oversizedBody(), "application/json"),
    );
    await assertProblem(response, 413, "Request body is larger than 16 KiB");
  });

  await t.step("answers 415 for a body that is not labelled JSON", async () => {
    const body = JSON.stringify({
      username: randomUsername(),
      password: PASSWORD,
    });
    const plain = await service.fetch("/signup", raw(body, "text/plain"));
    await assertProblem(plain, 415, "Request body must be application/json");
    const unlabelled = await service.fetch("/signup", raw(body));
    await assertProblem(
      unlabelled,
      415,
      "Request body must be application/json",
    );
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
      const ascii = await signUp(service, randomUsername(), "p".repeat(73));
      await assertInvalidFields(ascii, [
        { field: "password", message: "must be at most 72 bytes of UTF-8" },
      ]);
      // 25 characters, but 75 bytes: the limit is bcrypt's, in bytes.
      const euros = await signUp(service, randomUsername(), "€".repeat(25));
      await assertInvalidFields(euros, [
        { field: "password", message: "must be at most 72 bytes of UTF-8" },
      ]);
    },
  );

  await t.step("accepts a password of exactly 72 bytes", async () => {
    const username = randomUsername();
    const password = "p".repeat(72);
    const response = await signUp(service, username, password);
    assert.equal(response.status, 201);
    await response.body?.cancel();
    const login = await service.fetch("/login", json({ username, password }));
    await assertTokenPair(login);
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
      const response = await signUp(service, username);
      assert.equal(response.status, 201);
      assert.equal(response.headers.get("content-type"), JSON_TYPE);
      assert.equal((await response.json()).username, username);
    },
  );

  await t.step("answers 422 for an empty name", async () => {
    const response = await signUp(service, "");
    await assertInvalidFields(response, [
      { field: "username", message: "must not be empty" },
    ]);
  });

  await t.step(
    "answers 422 for fields of the wrong type or missing",
    async () => {
      const wrong = await service.fetch(
        "/signup",
        json({ username: 42, password: null }),
      );
      await assertInvalidFields(wrong, [
        { field: "username", message: "must be a string" },
        { field: "password", message: "must be a string" },
      ]);
      const missing = await service.fetch("/signup", json({}));
      await assertInvalidFields(missing, [
        { field: "username", message: "is required" },
        { field: "password", message: "is required" },
      ]);
      const array = await service.fetch("/signup", json([]));
      await assertInvalidFields(array, [
        { field: "body", message: "must be a JSON object" },
      ]);
    },
  );
});

Deno.test("POST /login hands out a token pair for the right password only", async (t) => {
  await using service = await openTestService();
  const username = randomUsername("Carol");
  await (await signUp(service, username)).body?.cancel();

  await t.step(
    "answers 200 with a token pair that is not to be cached",
    async () => {
      const response = await service.fetch(
        "/login",
        json({ username, password: PASSWORD }),
      );
      const pair = await assertTokenPair(response);
      assert.equal(jwtClaims(pair.access_token).sub, username);
      assert.equal(jwtClaims(pair.access_token).token_use, "access");
      assert.equal(jwtClaims(pair.refresh_token).token_use, "refresh");
    },
  );

  await t.step(
    "accepts the name in another case and keeps it as first written",
    async () => {
      const response = await service.fetch(
        "/login",
        json({ username: username.toUpperCase(), password: PASSWORD }),
      );
      const pair = await assertTokenPair(response);
      const me = await service.fetch("/me", bearer(pair.access_token));
      assert.equal(me.status, 200);
      assert.equal(me.headers.get("content-type"), JSON_TYPE);
      assert.equal((await me.json()).username, username);
    },
  );

  await t.step(
    "answers 401 alike for an unknown name and a wrong password",
    async () => {
      const unknown = await service.fetch(
        "/login",
        json({ username: randomUsername(), password: PASSWORD }),
      );
      const wrong = await service.fetch(
        "/login",
        json({ username, password: "wrong password" }),
      );
      const challenge = unknown.headers.get("www-authenticate");
      assert.equal(wrong.headers.get("www-authenticate"), challenge);
      const unknownBody = await unknown.clone().json();
      assert.deepEqual(await wrong.clone().json(), unknownBody);
      await assertUnauthorized(unknown, "Invalid username or password", {
        tokenSent: false,
      });
      await assertUnauthorized(wrong, "Invalid username or password", {
        tokenSent: false,
      });
    },
  );

  await t.step(
    "answers an unknown name and a wrong password with the same bytes and headers",
    async () => {
      const unknown = await service.fetch(
        "/login",
        json({ username: randomUsername(), password: PASSWORD }),
      );
      const wrong = await service.fetch(
        "/login",
        json({ username, password: "wrong password" }),
      );
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
      await (await signUp(service, name, password)).body?.cancel();
      const response = await service.fetch(
        "/login",
        json({ username: name, password: `${password}extra` }),
      );
      await assertUnauthorized(response, "Invalid username or password", {
        tokenSent: false,
      });
    },
  );

  await t.step(
    "answers 401 for a name with a lone surrogate that stands for a real one",
    async () => {
      const base = randomUsername();
      await (await signUp(service, `${base}\ufffd`)).body?.cancel();
      for (const name of [`${base}\ud800`, `${base}\udfff`]) {
        const response = await service.fetch(
          "/login",
          json({ username: name, password: PASSWORD }),
        );
        await assertUnauthorized(response, "Invalid username or password", {
          tokenSent: false,
        });
      }
    },
  );

  await t.step(
    "answers 401 for a password with a lone surrogate in place of U+FFFD",
    async () => {
      const name = randomUsername();
      await (await signUp(service, name, `${PASSWORD}\ufffd`)).body?.cancel();
      const response = await service.fetch(
        "/login",
        json({ username: name, password: `${PASSWORD}\ud800` }),
      );
      await assertUnauthorized(response, "Invalid username or password", {
        tokenSent: false,
      });
      const right = await service.fetch(
        "/login",
        json({ username: name, password: `${PASSWORD}\ufffd` }),
      );
      await assertTokenPair(right);
    },
  );

  await t.step("answers 400 for a body that is not JSON", async () => {
    const response = await service.fetch(
      "/login",
      raw("{", "application/json"),
    );
    await assertProblem(response, 400, "Request body is not valid JSON");
  });

  await t.step("answers 413 for a body over 16 KiB", async () => {
    const response = await service.fetch(
      "/login",
      raw(oversizedBody(), "application/json"),
    );
    await assertProblem(response, 413, "Request body is larger than 16 KiB");
  });

  await t.step("answers 415 for a form-encoded body", async () => {
    const body = new URLSearchParams({ username, password: PASSWORD });
    const response = await service.fetch("/login", raw(body.toString(), FORM));
    await assertProblem(response, 415, "Request body must be application/json");
  });

  await t.step(
    "answers 422 for missing, empty or mistyped fields",
    async () => {
      const missing = await service.fetch("/login", json({ username }));
      await assertInvalidFields(missing, [
        { field: "password", message: "is required" },
      ]);
      const empty = await service.fetch(
        "/login",
        json({ username: "", password: PASSWORD }),
      );
      await assertInvalidFields(empty, [
        { field: "username", message: "must not be empty" },
      ]);
      const mistyped = await service.fetch(
        "/login",
        json({ username, password: 12345678 }),
      );
      await assertInvalidFields(mistyped, [
        { field: "password", message: "must be a string" },
      ]);
    },
  );
});

Deno.test("GET /refresh_token exchanges a Bearer refresh token for a new pair", async (t) => {
  await using service = await openTestService();

  await t.step(
    "answers 200 with a new pair that is not to be cached",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      const response = await service.fetch(
        "/refresh_token",
        bearer(tokens.refresh_token),
      );
      const pair = await assertTokenPair(response);
      assert.notEqual(pair.refresh_token, tokens.refresh_token);
      assert.notEqual(pair.access_token, tokens.access_token);
      const secret = await service.fetch("/secret", bearer(pair.access_token));
      assert.equal(secret.status, 200);
      await secret.body?.cancel();
    },
  );

  await t.step(
    "answers 401 Not authenticated without an Authorization header",
    async () => {
      const response = await service.fetch("/refresh_token");
      await assertUnauthorized(response, "Not authenticated", {
        tokenSent: false,
      });
    },
  );

  await t.step(
    "answers 401 Invalid refresh token for a token it did not issue",
    async () => {
      const response = await service.fetch(
        "/refresh_token",
        bearer("abc.def.ghi"),
      );
      await assertUnauthorized(response, "Invalid refresh token", {
        tokenSent: true,
      });
    },
  );

  await t.step(
    "answers 401 Invalid refresh token for an access token",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      const response = await service.fetch(
        "/refresh_token",
        bearer(tokens.access_token),
      );
      await assertUnauthorized(response, "Invalid refresh token", {
        tokenSent: true,
      });
    },
  );

  await t.step(
    "answers 401 Refresh token reused for a rotated token",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      const first = await service.fetch(
        "/refresh_token",
        bearer(tokens.refresh_token),
      );
      await assertTokenPair(first);
      service.clock.advance(service.config.refreshReuseIntervalMs);
      const again = await service.fetch(
        "/refresh_token",
        bearer(tokens.refresh_token),
      );
      await assertUnauthorized(again, "Refresh token reused", {
        tokenSent: true,
      });
    },
  );

  await t.step(
    "refuses HEAD with 405, leaving the refresh token unrotated",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      const head = await service.fetch("/refresh_token", {
        method: "HEAD",
        headers: { authorization: `Bearer ${tokens.refresh_token}` },
      });
      assert.equal(head.status, 405);
      assert.equal(head.headers.get("allow"), "GET, POST, OPTIONS");
      await head.body?.cancel();
      service.clock.advance(service.config.refreshReuseIntervalMs);
      const response = await service.fetch(
        "/refresh_token",
        bearer(tokens.refresh_token),
      );
      await assertTokenPair(response);
    },
  );

  await t.step(
    "answers 401 Refresh token expired after its lifetime",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      service.clock.advance(service.config.refreshTokenTtlMs);
      const response = await service.fetch(
        "/refresh_token",
        bearer(tokens.refresh_token),
      );
      await assertUnauthorized(response, "Refresh token expired", {
        tokenSent: true,
      });
    },
  );
});

Deno.test("POST /refresh_token exchanges a refresh token in the body for a new pair", async (t) => {
  await using service = await openTestService();

  await t.step(
    "answers 200 with a new pair that is not to be cached",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      const response = await service.fetch(
        "/refresh_token",
        json({ refresh_token: tokens.refresh_token }),
      );
      const pair = await assertTokenPair(response);
      assert.notEqual(pair.refresh_token, tokens.refresh_token);
    },
  );

  await t.step(
    "answers 401 Invalid refresh token for an access token",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      const response = await service.fetch(
        "/refresh_token",
        json({ refresh_token: tokens.access_token }),
      );
      await assertUnauthorized(response, "Invalid refresh token", {
        tokenSent: true,
      });
    },
  );

  await t.step("answers 400 for a body that is not JSON", async () => {
    const response = await service.fetch(
      "/refresh_token",
      raw("refresh_token", "application/json"),
    );
    await assertProblem(response, 400, "Request body is not valid JSON");
  });

  await t.step("answers 413 for a body over 16 KiB", async () => {
    const response = await service.fetch(
      "/refresh_token",
      json({ refresh_token: "r".repeat(16 * 1024) }),
    );
    await assertProblem(response, 413, "Request body is larger than 16 KiB");
  });

  await t.step("answers 415 for a body that is not labelled JSON", async () => {
    const { tokens } = await signUpAndLogIn(service);
    const body = new URLSearchParams({ refresh_token: tokens.refresh_token });
    const response = await service.fetch(
      "/refresh_token",
      raw(body.toString(), FORM),
    );
    await assertProblem(response, 415, "Request body must be application/json");
  });

  await t.step(
    "answers 422 for a missing or mistyped refresh_token",
    async () => {
      const missing = await service.fetch("/refresh_token", json({}));
      await assertInvalidFields(missing, [
        { field: "refresh_token", message: "is required" },
      ]);
      const mistyped = await service.fetch(
        "/refresh_token",
        json({ refresh_token: 7 }),
      );
      await assertInvalidFields(mistyped, [
        { field: "refresh_token", message: "must be a string" },
      ]);
    },
  );
});

Deno.test("POST /token grants tokens and fails in the OAuth 2.0 error form", async (t) => {
  await using service = await openTestService();
  const { username, password } = await signUpAndLogIn(service);

  async function token(fields: Record<string, string>, type = FORM) {
    const body = type === FORM
      ? new URLSearchParams(fields).toString()
      : JSON.stringify(fields);
    return await service.fetch("/token", raw(body, type));
  }

  await t.step("answers 200 to a form-encoded password grant", async () => {
    const response = await token({
      grant_type: "password",
      username,
      password,
    });
    const pair = await assertTokenPair(response);
    assert.equal(jwtClaims(pair.access_token).sub, username);
  });

  await t.step("answers 200 to a JSON password grant", async () => {
    const response = await token(
      { grant_type: "password", username, password },
      "application/json",
    );
    await assertTokenPair(response);
  });

  await t.step(
    "answers 200 to a form-encoded refresh_token grant and rotates",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      const fields = {
        grant_type: "refresh_token",
        refresh_token: tokens.refresh_token,
      };
      const pair = await assertTokenPair(await token(fields));
      assert.notEqual(pair.refresh_token, tokens.refresh_token);
      const next = await token({
        grant_type: "refresh_token",
        refresh_token: pair.refresh_token,
      });
      await assertTokenPair(next);
    },
  );

  await t.step("answers 200 to a JSON refresh_token grant", async () => {
    const { tokens } = await signUpAndLogIn(service);
    const response = await token(
      { grant_type: "refresh_token", refresh_token: tokens.refresh_token },
      "application/json",
    );
    await assertTokenPair(response);
  });

  await t.step("answers invalid_request without grant_type", async () => {
    const response = await token({ username, password });
    await assertOAuthError(
      response,
      "invalid_request",
      "grant_type is needed",
    );
  });

  await t.step(
    "answers invalid_request for a grant without its fields",
    async () => {
      const noPassword = await token({ grant_type: "password", username });
      await assertOAuthError(
        noPassword,
        "invalid_request",
        "username and password needed",
      );
      const noToken = await token({ grant_type: "refresh_token" });
      await assertOAuthError(
        noToken,
        "invalid_request",
        "refresh_token is needed",
      );
    },
  );

  await t.step(
    "answers invalid_request for a malformed or mistyped JSON body",
    async () => {
      const malformed = await service.fetch(
        "/token",
        raw("{", "application/json"),
      );
      await assertOAuthError(
        malformed,
        "invalid_request",
        "Request body is not valid JSON",
      );
      const mistyped = await service.fetch(
        "/token",
        json({ grant_type: "password", username: 5, password }),
      );
      await assertOAuthError(
        mistyped,
        "invalid_request",
        "Request body is invalid",
      );
    },
  );

  await t.step(
    "answers 400 invalid_request for a body too large or of another type",
    async () => {
      // RFC 6749 section 5.2: every malformed request is a 400.
      const large = await token({
        grant_type: "password",
        username,
        password: "p".repeat(16 * 1024),
      });
      await assertOAuthError(
        large,
        "invalid_request",
        "Request body is larger than 16 KiB",
      );
      const plain = await service.fetch(
        "/token",
        raw("grant_type=password", "text/plain"),
      );
      await assertOAuthError(
        plain,
        "invalid_request",
        `Request body must be application/json or ${FORM}`,
      );
      const unlabelled = await service.fetch(
        "/token",
        raw("grant_type=password"),
      );
      await assertOAuthError(
        unlabelled,
        "invalid_request",
        `Request body must be application/json or ${FORM}`,
      );
      const notUtf8 = await service.fetch(
        "/token",
        raw(new Uint8Array([0x61, 0x3d, 0xff]), FORM),
      );
      await assertOAuthError(
        notUtf8,
        "invalid_request",
        "Request body could not be read",
      );
    },
  );

  await t.step(
    "answers 400 invalid_request for a parameter given twice",
    async () => {
      // RFC 6749 section 3.2: parameters must not be included more than
      // once, or the service and whatever sits before it may read
      // different values.
      const password2 = new URLSearchParams([
        ["grant_type", "password"],
        ["username", username],
        ["password", "wrong password"],
        ["password", password],
      ]);
      const twice = await service.fetch(
        "/token",
        raw(password2.toString(), FORM),
      );
      await assertOAuthError(
        twice,
        "invalid_request",
        "Request body repeats 'password'",
      );
      const grant2 = new URLSearchParams([
        ["grant_type", "refresh_token"],
        ["grant_type", "password"],
        ["username", username],
        ["password", password],
      ]);
      const grants = await service.fetch(
        "/token",
        raw(grant2.toString(), FORM),
      );
      await assertOAuthError(
        grants,
        "invalid_request",
        "Request body repeats 'grant_type'",
      );
      // RFC 6749 section 5.2: the description stays within printable ASCII.
      const odd = await service.fetch(
        "/token",
        raw("grant_type=password&p%C3%A4ss%5C=1&p%C3%A4ss%5C=2", FORM),
      );
      await assertOAuthError(
        odd,
        "invalid_request",
        "Request body repeats 'p?ss?'",
      );
    },
  );

  await t.step(
    "answers invalid_grant for a name with a lone surrogate",
    async () => {
      const response = await token({
        grant_type: "password",
        username: `${username}\ud800`,
        password,
      }, "application/json");
      await assertOAuthError(
        response,
        "invalid_grant",
        "Invalid username or password",
      );
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
      const wrong = await token({
        grant_type: "password",
        username,
        password: "wrong password",
      });
      assert.equal(wrong.headers.get("www-authenticate"), null);
      await assertOAuthError(
        wrong,
        "invalid_grant",
        "Invalid username or password",
      );
      const unknown = await token({
        grant_type: "password",
        username: randomUsername(),
        password,
      });
      await assertOAuthError(
        unknown,
        "invalid_grant",
        "Invalid username or password",
      );
    },
  );

  await t.step(
    "answers invalid_grant for a bad, reused or mistaken refresh token",
    async () => {
      const junk = await token({
        grant_type: "refresh_token",
        refresh_token: "abc.def.ghi",
      });
      await assertOAuthError(junk, "invalid_grant", "Invalid refresh token");
      const { tokens } = await signUpAndLogIn(service);
      const access = await token({
        grant_type: "refresh_token",
        refresh_token: tokens.access_token,
      });
      await assertOAuthError(access, "invalid_grant", "Invalid refresh token");
      const fields = {
        grant_type: "refresh_token",
        refresh_token: tokens.refresh_token,
      };
      await assertTokenPair(await token(fields));
      service.clock.advance(service.config.refreshReuseIntervalMs);
      const reused = await token(fields);
      await assertOAuthError(reused, "invalid_grant", "Refresh token reused");
    },
  );
});
