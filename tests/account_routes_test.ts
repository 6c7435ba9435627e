import assert from "node:assert/strict";
import {
  assertInvalidFields,
  assertProblem,
  assertTokenPair,
  assertUnauthorized,
  JSON_TYPE,
} from "./_assertions.ts";
import {
  bearer,
  json,
  openTestService,
  signUpAndLogIn,
  type TestService,
  type TokenPairBody,
} from "./_helpers.ts";

async function logIn(
  service: TestService,
  username: string,
  password: string,
): Promise<Response> {
  return await service.fetch("/login", json({ username, password }));
}

async function refresh(
  service: TestService,
  tokens: TokenPairBody,
): Promise<Response> {
  return await service.fetch("/refresh_token", bearer(tokens.refresh_token));
}

async function assertNoContent(response: Response): Promise<void> {
  assert.equal(response.status, 204);
  assert.equal(response.headers.get("content-type"), null);
  assert.equal(await response.text(), "");
}

Deno.test("GET /me answers the caller's account or 401", async (t) => {
  await using service = await openTestService();

  await t.step(
    "answers 200 with the name as written and the creation time",
    async () => {
      const { username, tokens } = await signUpAndLogIn(service);
      const response = await service.fetch("/me", bearer(tokens.access_token));
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), JSON_TYPE);
      assert.deepEqual(await response.json(), {
        username,
        created_at: "2026-01-01T00:00:00.000Z",
      });
    },
  );

  await t.step(
    "answers 401 Not authenticated with a bare challenge without a header",
    async () => {
      const response = await service.fetch("/me");
      await assertUnauthorized(response, "Not authenticated", {
        tokenSent: false,
      });
    },
  );

  await t.step(
    "answers 401 Not authenticated for another scheme or no scheme",
    async () => {
      for (const header of ["Basic x", "Basic dXNlcjpwYXNz", "junk"]) {
        const response = await service.fetch("/me", {
          headers: { authorization: header },
        });
        await assertUnauthorized(response, "Not authenticated", {
          tokenSent: false,
        });
      }
    },
  );

  await t.step(
    "answers 401 Invalid token for a malformed Bearer header",
    async () => {
      const headers = ["Bearer", "Bearer a b", "Bearer ###", "Bearer a,b"];
      for (const header of headers) {
        const response = await service.fetch("/me", {
          headers: { authorization: header },
        });
        await assertUnauthorized(response, "Invalid token", {
          tokenSent: true,
        });
      }
    },
  );

  await t.step(
    "answers 401 Invalid token for a token it did not issue",
    async () => {
      const tokens = ["abc.def.ghi", "e30.e30.", "x".repeat(4000)];
      for (const token of tokens) {
        const response = await service.fetch("/me", bearer(token));
        await assertUnauthorized(response, "Invalid token", {
          tokenSent: true,
        });
      }
    },
  );

  await t.step("answers 401 Invalid token for a refresh token", async () => {
    const { tokens } = await signUpAndLogIn(service);
    const response = await service.fetch("/me", bearer(tokens.refresh_token));
    await assertUnauthorized(response, "Invalid token", { tokenSent: true });
  });

  await t.step(
    "answers 401 Token expired once the access token has expired",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      service.clock.advance(service.config.accessTokenTtlMs);
      const response = await service.fetch("/me", bearer(tokens.access_token));
      await assertUnauthorized(response, "Token expired", { tokenSent: true });
    },
  );
});

Deno.test("POST /logout ends the caller's session", async (t) => {
  await using service = await openTestService();

  await t.step(
    "answers 204 and the session's refresh token stops working",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      const response = await service.fetch(
        "/logout",
        bearer(tokens.access_token, "POST"),
      );
      await assertNoContent(response);
      await assertUnauthorized(
        await refresh(service, tokens),
        "Invalid refresh token",
        { tokenSent: true },
      );
      await assertUnauthorized(
        await service.fetch("/me", bearer(tokens.access_token)),
        "Invalid token",
        { tokenSent: true },
      );
    },
  );

  await t.step("leaves the user's other sessions alone", async () => {
    const { username, password, tokens } = await signUpAndLogIn(service);
    const other = await assertTokenPair(
      await logIn(service, username, password),
    );
    const response = await service.fetch(
      "/logout",
      bearer(tokens.access_token, "POST"),
    );
    await assertNoContent(response);
    await assertTokenPair(await refresh(service, other));
  });

  await t.step("answers 401 Not authenticated without a token", async () => {
    const response = await service.fetch("/logout", { method: "POST" });
    await assertUnauthorized(response, "Not authenticated", {
      tokenSent: false,
    });
  });

  await t.step(
    "answers 401 Invalid token for a session already ended",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      const logout = bearer(tokens.access_token, "POST");
      await assertNoContent(await service.fetch("/logout", logout));
      const again = await service.fetch("/logout", logout);
      await assertUnauthorized(again, "Invalid token", { tokenSent: true });
    },
  );
});

Deno.test("POST /password changes the password and ends every other session", async (t) => {
  await using service = await openTestService();
  const newPassword = "a new and better password";

  function change(token: string, body: unknown): Promise<Response> {
    return service.fetch("/password", json(body, { token }));
  }

  await t.step(
    "answers 204; other sessions end and the current one goes on",
    async () => {
      const { username, password, tokens } = await signUpAndLogIn(service);
      const other = await assertTokenPair(
        await logIn(service, username, password),
      );
      const response = await change(tokens.access_token, {
        current_password: password,
        new_password: newPassword,
      });
      await assertNoContent(response);
      await assertUnauthorized(
        await refresh(service, other),
        "Invalid refresh token",
        { tokenSent: true },
      );
      await assertUnauthorized(
        await service.fetch("/me", bearer(other.access_token)),
        "Invalid token",
        { tokenSent: true },
      );
      await assertTokenPair(await refresh(service, tokens));
      const me = await service.fetch("/me", bearer(tokens.access_token));
      assert.equal(me.status, 200);
      await me.body?.cancel();
    },
  );

  await t.step(
    "lets the new password log in and no longer the old one",
    async () => {
      const { username, password, tokens } = await signUpAndLogIn(service);
      await assertNoContent(
        await change(tokens.access_token, {
          current_password: password,
          new_password: newPassword,
        }),
      );
      await assertTokenPair(await logIn(service, username, newPassword));
      await assertUnauthorized(
        await logIn(service, username, password),
        "Invalid username or password",
        { tokenSent: false },
      );
    },
  );

  await t.step(
    "answers 401 for a wrong current password and changes nothing",
    async () => {
      const { username, password, tokens } = await signUpAndLogIn(service);
      const other = await assertTokenPair(
        await logIn(service, username, password),
      );
      const response = await change(tokens.access_token, {
        current_password: "not the password",
        new_password: newPassword,
      });
      await assertProblem(response, 401, "Invalid username or password");
      await assertTokenPair(await logIn(service, username, password));
      await assertTokenPair(await refresh(service, other));
    },
  );

  await t.step("answers 401 Not authenticated without a token", async () => {
    const response = await service.fetch(
      "/password",
      json({ current_password: "x", new_password: newPassword }),
    );
    await assertUnauthorized(response, "Not authenticated", {
      tokenSent: false,
    });
  });

  await t.step(
    "answers 422 for a new password that breaks the policy",
    async () => {
      const { password, tokens } = await signUpAndLogIn(service);
      const short = await change(tokens.access_token, {
        current_password: password,
        new_password: "short",
      });
      await assertInvalidFields(short, [
        { field: "new_password", message: "must be at least 8 characters" },
      ]);
      const long = await change(tokens.access_token, {
        current_password: password,
        new_password: "n".repeat(73),
      });
      await assertInvalidFields(long, [
        { field: "new_password", message: "must be at most 72 bytes of UTF-8" },
      ]);
    },
  );

  await t.step("answers 422 for missing or mistyped fields", async () => {
    const { tokens } = await signUpAndLogIn(service);
    const missing = await change(tokens.access_token, {
      new_password: newPassword,
    });
    await assertInvalidFields(missing, [
      { field: "current_password", message: "is required" },
    ]);
    const mistyped = await change(tokens.access_token, {
      current_password: true,
      new_password: newPassword,
    });
    await assertInvalidFields(mistyped, [
      { field: "current_password", message: "must be a string" },
    ]);
  });
});

Deno.test("DELETE /me deletes the account and all its sessions", async (t) => {
  await using service = await openTestService();

  function remove(token: string, body: unknown): Promise<Response> {
    return service.fetch("/me", json(body, { token, method: "DELETE" }));
  }

  await t.step(
    "answers 204; the account and its sessions are gone",
    async () => {
      const { username, password, tokens } = await signUpAndLogIn(service);
      const other = await assertTokenPair(
        await logIn(service, username, password),
      );
      await assertNoContent(await remove(tokens.access_token, { password }));
      await assertUnauthorized(
        await logIn(service, username, password),
        "Invalid username or password",
        { tokenSent: false },
      );
      for (const pair of [tokens, other]) {
        await assertUnauthorized(
          await refresh(service, pair),
          "Invalid refresh token",
          { tokenSent: true },
        );
      }
    },
  );

  await t.step(
    "lets the name be taken again, and the old token stays refused",
    async () => {
      const { username, password, tokens } = await signUpAndLogIn(service);
      await assertNoContent(await remove(tokens.access_token, { password }));
      service.clock.advance(1_000);
      const signup = await service.fetch(
        "/signup",
        json({ username, password: "someone else's password" }),
      );
      assert.equal(signup.status, 201);
      assert.equal(signup.headers.get("content-type"), JSON_TYPE);
      assert.deepEqual(await signup.json(), {
        username,
        created_at: new Date(service.clock.now()).toISOString(),
      });
      const me = await service.fetch("/me", bearer(tokens.access_token));
      await assertUnauthorized(me, "Invalid token", { tokenSent: true });
    },
  );

  await t.step(
    "answers 401 for a wrong password and keeps the account",
    async () => {
      const { username, password, tokens } = await signUpAndLogIn(service);
      const response = await remove(tokens.access_token, {
        password: "not the password",
      });
      await assertProblem(response, 401, "Invalid username or password");
      await assertTokenPair(await logIn(service, username, password));
      await assertTokenPair(await refresh(service, tokens));
    },
  );

  await t.step("answers 401 Not authenticated without a token", async () => {
    const response = await service.fetch(
      "/me",
      json({ password: "whatever" }, { method: "DELETE" }),
    );
    await assertUnauthorized(response, "Not authenticated", {
      tokenSent: false,
    });
  });

  await t.step("answers 422 for a missing or mistyped password", async () => {
    const { tokens } = await signUpAndLogIn(service);
    const missing = await remove(tokens.access_token, {});
    await assertInvalidFields(missing, [
      { field: "password", message: "is required" },
    ]);
    const mistyped = await remove(tokens.access_token, { password: 1 });
    await assertInvalidFields(mistyped, [
      { field: "password", message: "must be a string" },
    ]);
  });
});
