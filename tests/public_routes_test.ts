import assert from "node:assert/strict";
import {
  assertProblem,
  assertTokenPair,
  assertTokenRefused,
  assertUnauthorized,
  JSON_TYPE,
} from "./_assertions.ts";
import {
  bearer,
  json,
  logIn,
  openTestService,
  PASSWORD,
  refresh,
  signUpAndLogIn,
  type TestService,
  type TokenPairBody,
} from "./_helpers.ts";

const SECRET = "Top Secret data only authorized users can access this info";

Deno.test("GET and POST /secret answer holders of an access token only", async (t) => {
  await using service = await openTestService();

  for (const method of ["GET", "POST"]) {
    await t.step(
      `${method} answers 200 with the secret for an access token`,
      async () => {
        const { tokens } = await signUpAndLogIn(service);
        const response = await service.fetch(
          "/secret",
          bearer(tokens.access_token, method),
        );
        assert.equal(response.status, 200);
        assert.equal(response.headers.get("content-type"), JSON_TYPE);
        assert.equal(await response.json(), SECRET);
      },
    );

    await t.step(
      `${method} answers 401 Not authenticated without a token`,
      async () => {
        const response = await service.fetch("/secret", { method });
        await assertUnauthorized(response, "Not authenticated", {
          tokenSent: false,
        });
      },
    );

    await t.step(
      `${method} answers 401 Invalid token for a refresh token or junk`,
      async () => {
        const { tokens } = await signUpAndLogIn(service);
        for (const token of [tokens.refresh_token, "abc.def.ghi"]) {
          const response = await service.fetch(
            "/secret",
            bearer(token, method),
          );
          await assertUnauthorized(response, "Invalid token", {
            tokenSent: true,
          });
        }
      },
    );
  }

  await t.step(
    "answers 401 Token expired once the access token has expired",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      service.clock.advance(service.config.accessTokenTtlMs);
      const response = await service.fetch(
        "/secret",
        bearer(tokens.access_token),
      );
      await assertUnauthorized(response, "Token expired", { tokenSent: true });
    },
  );

  await t.step("answers 405 with Allow for PUT", async () => {
    const { tokens } = await signUpAndLogIn(service);
    const response = await service.fetch(
      "/secret",
      bearer(tokens.access_token, "PUT"),
    );
    const allow = response.headers.get("allow") ?? "";
    await assertProblem(response, 405, "Method Not Allowed");
    assert.deepEqual(allow.split(/,\s*/).sort(), [
      "GET",
      "HEAD",
      "OPTIONS",
      "POST",
    ]);
  });
});

Deno.test("POST /secret refuses the access token of a session that has ended", async (t) => {
  await using service = await openTestService();

  // Each case uses the token on /secret first, so that its checks are
  // remembered, then ends the session another way.
  async function warmedUp(): Promise<TokenPairBody & { username: string }> {
    const { username, tokens } = await signUpAndLogIn(service);
    await assertSecret(service, tokens.access_token);
    return { ...tokens, username };
  }

  await t.step("after POST /logout", async () => {
    const tokens = await warmedUp();
    const logout = await service.fetch(
      "/logout",
      bearer(tokens.access_token, "POST"),
    );
    assert.equal(logout.status, 204);

    await assertTokenRefused(await secret(service, tokens), "Invalid token");
  });

  await t.step("after a password change in another session", async () => {
    const tokens = await warmedUp();
    const other = await assertTokenPair(
      await logIn(service, tokens.username, PASSWORD),
    );
    const change = await service.fetch(
      "/password",
      json(
        { current_password: PASSWORD, new_password: "a new password" },
        { token: other.access_token },
      ),
    );
    assert.equal(change.status, 204);

    await assertTokenRefused(await secret(service, tokens), "Invalid token");
    await assertSecret(service, other.access_token);
  });

  await t.step("after DELETE /me", async () => {
    const tokens = await warmedUp();
    const deletion = await service.fetch(
      "/me",
      json({ password: PASSWORD }, {
        method: "DELETE",
        token: tokens.access_token,
      }),
    );
    assert.equal(deletion.status, 204);

    await assertTokenRefused(await secret(service, tokens), "Invalid token");
  });

  await t.step("after a rotated refresh token was reused", async () => {
    const tokens = await warmedUp();
    await assertTokenPair(await refresh(service, tokens.refresh_token));
    service.clock.advance(service.config.refreshReuseIntervalMs);
    await assertTokenRefused(
      await refresh(service, tokens.refresh_token),
      "Refresh token reused",
    );

    await assertTokenRefused(await secret(service, tokens), "Invalid token");
  });
});

async function secret(
  service: TestService,
  tokens: TokenPairBody,
): Promise<Response> {
  return await service.fetch("/secret", bearer(tokens.access_token, "POST"));
}

async function assertSecret(
  service: TestService,
  accessToken: string,
): Promise<void> {
  const response = await service.fetch("/secret", bearer(accessToken, "POST"));
  assert.equal(response.status, 200);
  assert.equal(await response.json(), SECRET);
}

Deno.test("GET /notsecret answers anyone", async (t) => {
  await using service = await openTestService();

  await t.step(
    "answers 200 with the public string without a token",
    async () => {
      const response = await service.fetch("/notsecret");
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), JSON_TYPE);
      assert.equal(await response.json(), "Not secret data");
    },
  );
});

Deno.test("GET /healthz tells whether the store answers", async (t) => {
  await t.step(
    "answers 200 with status ok while the store is open",
    async () => {
      await using service = await openTestService();
      const response = await service.fetch("/healthz");
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), JSON_TYPE);
      assert.deepEqual(await response.json(), { status: "ok" });
    },
  );

  await t.step("answers 503 once the store is closed", async () => {
    // Closed here by hand: disposing of the service would close it twice.
    const service = await openTestService();
    service.kv.close();
    const response = await service.fetch("/healthz");
    await assertProblem(response, 503, "Store unavailable");
  });
});

Deno.test("Unknown paths answer 404 problem details", async (t) => {
  await using service = await openTestService();

  await t.step("answers 404 for a path no route has", async () => {
    const response = await service.fetch("/nowhere");
    await assertProblem(response, 404, "Not Found");
  });

  await t.step(
    "answers 404 for a known path with a trailing slash",
    async () => {
      const response = await service.fetch("/secret/");
      await assertProblem(response, 404, "Not Found");
    },
  );

  await t.step(
    "answers 404 for a file the docs page does not have",
    async () => {
      const response = await service.fetch("/docs/missing.js");
      await assertProblem(response, 404, "Not Found");
    },
  );
});
