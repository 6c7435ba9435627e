import assert from "node:assert/strict";
import {
  assertInvalidFields,
  assertLoginRefused,
  assertNotAuthenticated,
  assertProblem,
  assertThrottled,
  assertTokenPair,
  assertTokenRefused,
  JSON_TYPE,
} from "./_assertions.ts";
import {
  assertSessionOver,
  bearer,
  countingHasher,
  gatheringHasher,
  json,
  logIn,
  openTestService,
  refresh,
  signUp,
  signUpAndLogIn,
  signUpWithTwoSessions,
  type TestService,
  type TokenPairBody,
} from "./_helpers.ts";
import {
  logInAgain,
  once,
  passwordChangeElsewhere,
  racingHasher,
} from "./_openapi_cases.ts";
import { Store } from "../src/store.ts";
import { usernameKey } from "../src/username.ts";

async function assertNoContent(response: Response): Promise<void> {
  assert.equal(response.status, 204);
  assert.equal(response.headers.get("content-type"), null);
  assert.equal(await response.text(), "");
}

/**
 * Asserts the 401 for a wrong password where a route asks for it again,
 * and that the refusal left the account and the session `tokens` working.
 */
async function assertRefusedUnchanged(
  service: TestService,
  response: Response,
  user: { username: string; password: string },
  tokens: TokenPairBody,
): Promise<void> {
  await assertProblem(response, 401, "Invalid username or password");
  await assertTokenPair(await logIn(service, user.username, user.password));
  await assertTokenPair(await refresh(service, tokens.refresh_token));
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
      await assertNotAuthenticated(response);
    },
  );

  await t.step(
    "answers 401 Not authenticated for another scheme or no scheme",
    async () => {
      for (const header of ["Basic x", "Basic dXNlcjpwYXNz", "junk"]) {
        const response = await service.fetch("/me", {
          headers: { authorization: header },
        });
        await assertNotAuthenticated(response);
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
        await assertTokenRefused(response, "Invalid token");
      }
    },
  );

  await t.step(
    "answers 401 Invalid token for a token it did not issue",
    async () => {
      const tokens = ["abc.def.ghi", "e30.e30.", "x".repeat(4000)];
      for (const token of tokens) {
        const response = await service.fetch("/me", bearer(token));
        await assertTokenRefused(response, "Invalid token");
      }
    },
  );

  await t.step("answers 401 Invalid token for a refresh token", async () => {
    const { tokens } = await signUpAndLogIn(service);
    const response = await service.fetch("/me", bearer(tokens.refresh_token));
    await assertTokenRefused(response, "Invalid token");
  });

  await t.step(
    "answers 401 Token expired once the access token has expired",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      service.clock.advance(service.config.accessTokenTtlMs);
      const response = await service.fetch("/me", bearer(tokens.access_token));
      await assertTokenRefused(response, "Token expired");
    },
  );
});

Deno.test("POST /logout ends the caller's session", async (t) => {
  await using service = await openTestService();

  function logOut(token: string): Promise<Response> {
    return service.fetch("/logout", bearer(token, "POST"));
  }

  await t.step(
    "answers 204 and the session's refresh token stops working",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      await assertNoContent(await logOut(tokens.access_token));
      await assertSessionOver(service, tokens);
    },
  );

  await t.step("leaves the user's other sessions alone", async () => {
    const { tokens, other } = await signUpWithTwoSessions(service);
    await assertNoContent(await logOut(tokens.access_token));
    await assertTokenPair(await refresh(service, other.refresh_token));
  });

  await t.step("answers 401 Not authenticated without a token", async () => {
    const response = await service.fetch("/logout", { method: "POST" });
    await assertNotAuthenticated(response);
  });

  await t.step(
    "answers 401 Invalid token for a session already ended",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      await assertNoContent(await logOut(tokens.access_token));
      const again = await logOut(tokens.access_token);
      await assertTokenRefused(again, "Invalid token");
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
      const { password, tokens, other } = await signUpWithTwoSessions(
        service,
      );
      const response = await change(tokens.access_token, {
        current_password: password,
        new_password: newPassword,
      });
      await assertNoContent(response);
      await assertSessionOver(service, other);
      await assertTokenPair(await refresh(service, tokens.refresh_token));
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
      await assertLoginRefused(await logIn(service, username, password));
    },
  );

  await t.step(
    "answers 401 for a wrong current password and changes nothing",
    async () => {
      const user = await signUpWithTwoSessions(service);
      const response = await change(user.tokens.access_token, {
        current_password: "not the password",
        new_password: newPassword,
      });
      await assertRefusedUnchanged(service, response, user, user.other);
    },
  );

  await t.step("answers 401 Not authenticated without a token", async () => {
    const response = await service.fetch(
      "/password",
      json({ current_password: "x", new_password: newPassword }),
    );
    await assertNotAuthenticated(response);
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
      const { username, password, tokens, other } = await signUpWithTwoSessions(
        service,
      );
      await assertNoContent(await remove(tokens.access_token, { password }));
      await assertLoginRefused(await logIn(service, username, password));
      for (const pair of [tokens, other]) {
        await assertTokenRefused(
          await refresh(service, pair.refresh_token),
          "Invalid refresh token",
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
      const signup = await signUp(service, username, "someone else's password");
      assert.equal(signup.status, 201);
      assert.equal(signup.headers.get("content-type"), JSON_TYPE);
      assert.deepEqual(await signup.json(), {
        username,
        created_at: new Date(service.clock.now()).toISOString(),
      });
      const me = await service.fetch("/me", bearer(tokens.access_token));
      await assertTokenRefused(me, "Invalid token");
    },
  );

  await t.step(
    "answers 401 for a wrong password and keeps the account",
    async () => {
      const user = await signUpAndLogIn(service);
      const response = await remove(user.tokens.access_token, {
        password: "not the password",
      });
      await assertRefusedUnchanged(service, response, user, user.tokens);
    },
  );

  await t.step("answers 401 Not authenticated without a token", async () => {
    const response = await service.fetch(
      "/me",
      json({ password: "whatever" }, { method: "DELETE" }),
    );
    await assertNotAuthenticated(response);
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

/** Sends a route's password check in the session of `token`. */
type PasswordCheck = (
  service: TestService,
  token: string,
  password: string,
  address?: string,
) => Promise<Response>;

const WRONG = "not the password";
const MINUTE = 60_000;

/**
 * The steps that show a route's password check counted, limited, slowed
 * and cleared by login's throttle.
 */
async function throttleSteps(
  t: Deno.TestContext,
  check: PasswordCheck,
): Promise<void> {
  const hasher = countingHasher();
  await using service = await openTestService({
    hasher,
    config: { loginMaxFailures: 5, loginMaxFailuresPerAddress: 4 },
  });

  async function failChecks(token: string, count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      await assertLoginRefused(await check(service, token, WRONG));
    }
  }

  await t.step(
    "answers 429 with Retry-After after 5 wrong passwords, even to the right one, checking nothing",
    async () => {
      const { password, tokens } = await signUpAndLogIn(service);
      await failChecks(tokens.access_token, 5);
      service.clock.advance(MINUTE);
      const verified = hasher.verified.length;

      const response = await check(service, tokens.access_token, password);

      await assertThrottled(response, "840");
      assert.equal(hasher.verified.length, verified);
    },
  );

  await t.step("shares one count per name with POST /login", async () => {
    const { username, password, tokens } = await signUpAndLogIn(service);
    await assertLoginRefused(await logIn(service, username, WRONG));
    await failChecks(tokens.access_token, 4);

    await assertThrottled(await logIn(service, username, password), "900");
    await assertThrottled(
      await check(service, tokens.access_token, password),
      "900",
    );
  });

  await t.step(
    "holds back the 3rd and later failures as login does",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      const before = service.delays.length;

      await failChecks(tokens.access_token, 5);

      assert.deepEqual(service.delays.slice(before), [250, 500, 1000]);
    },
  );

  await t.step(
    "clears the name's count on the right password, holding nothing back",
    async () => {
      const { username, password, tokens } = await signUpAndLogIn(service);
      await failChecks(tokens.access_token, 4);
      const before = service.delays.length;

      const response = await check(service, tokens.access_token, password);

      await assertNoContent(response);
      assert.equal(service.delays.length, before);
      const store = new Store(service.kv);
      const key = usernameKey(username);
      assert.equal(await store.getFailures("username", key), null);
    },
  );

  await t.step(
    "answers 429 to an address that failed too often across names",
    async () => {
      const address = "203.0.113.5";
      for (let i = 0; i < 4; i++) {
        const { tokens } = await signUpAndLogIn(service);
        const response = await check(
          service,
          tokens.access_token,
          WRONG,
          address,
        );
        await assertLoginRefused(response);
      }
      const { password, tokens } = await signUpAndLogIn(service);

      const response = await check(
        service,
        tokens.access_token,
        password,
        address,
      );

      await assertThrottled(response, "900");
      const elsewhere = await check(
        service,
        tokens.access_token,
        password,
        "198.51.100.7",
      );
      await assertNoContent(elsewhere);
    },
  );
}

Deno.test("POST /password counts, slows and limits wrong current passwords as login does", async (t) => {
  await throttleSteps(t, (service, token, password, address) =>
    service.fetch(
      "/password",
      json({ current_password: password, new_password: "a new password" }, {
        token,
      }),
      { address },
    ));
});

Deno.test("DELETE /me counts, slows and limits wrong passwords as login does", async (t) => {
  await throttleSteps(t, (service, token, password, address) =>
    service.fetch(
      "/me",
      json({ password }, { token, method: "DELETE" }),
      { address },
    ));
});

const ADDRESS = "203.0.113.5";

/** The failed password checks counted for `address`, or 0. */
async function addressFailures(service: TestService): Promise<number> {
  const counted = await new Store(service.kv).getFailures("address", ADDRESS);
  return counted?.count ?? 0;
}

/** Asserts the 409 of a write that lost a race to another change. */
async function assertAccountChanged(response: Response): Promise<void> {
  await assertProblem(response, 409, "Account changed meanwhile, try again");
}

/** Sends a request while `race` runs after each password check. */
async function whileRacing(
  racing: ReturnType<typeof racingHasher>,
  race: () => Promise<void>,
  send: () => Promise<Response>,
): Promise<Response> {
  racing.race(race);
  try {
    return await send();
  } finally {
    racing.race(undefined);
  }
}

/** Asserts that the password of `username` is `current`, not `old`. */
async function assertPassword(
  service: TestService,
  username: string,
  passwords: { current: string; old: string },
): Promise<void> {
  await assertLoginRefused(await logIn(service, username, passwords.old));
  await assertTokenPair(await logIn(service, username, passwords.current));
}

Deno.test("POST /password answers 409, not 401, when the account changes during its check", async (t) => {
  const racing = racingHasher();
  const gathering = gatheringHasher(racing.hasher);
  await using service = await openTestService({ hasher: gathering });

  function change(
    token: string,
    current: string,
    next: string,
  ): Promise<Response> {
    const body = { current_password: current, new_password: next };
    return service.fetch("/password", json(body, { token }), {
      address: ADDRESS,
    });
  }

  await t.step(
    "answers five changes at once one 204 and four 409, counting none",
    async () => {
      const { username, password, tokens } = await signUpAndLogIn(service);
      const nexts = [1, 2, 3, 4, 5].map((i) => `new password ${i}`);
      gathering.gather(5);

      const responses = await Promise.all(
        nexts.map((next) => change(tokens.access_token, password, next)),
      );

      const statuses = responses.map((response) => response.status);
      assert.deepEqual(statuses.filter((status) => status !== 409), [204]);
      for (const response of responses) {
        if (response.status === 204) await assertNoContent(response);
        else await assertAccountChanged(response);
      }
      assert.equal(await addressFailures(service), 0);
      assert.deepEqual(service.delays, []);
      const current = nexts[statuses.indexOf(204)] ?? "";
      await assertPassword(service, username, { current, old: password });
    },
  );

  await t.step(
    "still answers a wrong password among them 401 and counts it",
    async () => {
      const { password, tokens } = await signUpAndLogIn(service);
      const tries = [password, password, WRONG, password];
      gathering.gather(tries.length);

      const responses = await Promise.all(
        tries.map((current) =>
          change(tokens.access_token, current, "a new password")
        ),
      );

      const wrong = responses[2];
      assert.ok(wrong);
      await assertLoginRefused(wrong);
      const others = responses.filter((response) => response !== wrong);
      assert.deepEqual(
        others.map((response) => response.status).sort((a, b) => a - b),
        [204, 409, 409],
      );
      await Promise.all(others.map((response) => response.body?.cancel()));
      assert.equal(await addressFailures(service), 1);
    },
  );

  await t.step(
    "answers 409 to a change overtaken by one from another session",
    async () => {
      const { username, password, tokens } = await signUpAndLogIn(service);
      const next = "changed elsewhere";
      const failures = await addressFailures(service);
      const race = await passwordChangeElsewhere(service, username, {
        password,
        next,
      });

      const response = await whileRacing(
        racing,
        race,
        () => change(tokens.access_token, password, "mine, not theirs"),
      );

      await assertAccountChanged(response);
      assert.equal(await addressFailures(service), failures);
      await assertPassword(service, username, {
        current: next,
        old: "mine, not theirs",
      });
    },
  );

  await t.step(
    "answers 204 when only a login rewrote the account meanwhile",
    async () => {
      const { username, password, tokens } = await signUpAndLogIn(service);
      const race = logInAgain(service, username, password);

      const response = await whileRacing(
        racing,
        race,
        () => change(tokens.access_token, password, "mine now"),
      );

      await assertNoContent(response);
      await assertPassword(service, username, {
        current: "mine now",
        old: password,
      });
    },
  );
});

Deno.test("POST /password goes on when a login upgraded the hash during its check", async () => {
  const racing = racingHasher();
  await using cheap = await openTestService({
    hasher: racing.hasher,
    config: { bcryptCost: 4 },
  });
  // The same store under a higher cost, as after raising BCRYPT_COST; it
  // shares the KV, so only `cheap` closes it.
  const costly = await openTestService({
    kv: cheap.kv,
    clock: cheap.clock,
    config: { bcryptCost: 5 },
  });
  const { username, password, tokens } = await signUpAndLogIn(cheap);
  const body = { current_password: password, new_password: "upgraded" };

  const response = await whileRacing(
    racing,
    once(logInAgain(costly, username, password)),
    () => cheap.fetch("/password", json(body, { token: tokens.access_token })),
  );

  await assertNoContent(response);
  await assertPassword(cheap, username, { current: "upgraded", old: password });
});

Deno.test("DELETE /me answers 409, not 401, when the account changes during its check", async (t) => {
  const racing = racingHasher();
  const gathering = gatheringHasher(racing.hasher);
  await using service = await openTestService({ hasher: gathering });

  function remove(token: string, password: string): Promise<Response> {
    return service.fetch(
      "/me",
      json({ password }, { token, method: "DELETE" }),
      { address: ADDRESS },
    );
  }

  await t.step(
    "answers 409 to a deletion overtaken by a password change, and keeps the account",
    async () => {
      const { username, password, tokens } = await signUpAndLogIn(service);
      const next = "changed elsewhere";
      const race = await passwordChangeElsewhere(service, username, {
        password,
        next,
      });

      const response = await whileRacing(
        racing,
        race,
        () => remove(tokens.access_token, password),
      );

      await assertAccountChanged(response);
      assert.equal(await addressFailures(service), 0);
      assert.deepEqual(service.delays, []);
      await assertPassword(service, username, { current: next, old: password });
    },
  );

  await t.step(
    "answers 204 when only a login rewrote the account meanwhile",
    async () => {
      const { username, password, tokens } = await signUpAndLogIn(service);
      const race = logInAgain(service, username, password);

      const response = await whileRacing(
        racing,
        race,
        () => remove(tokens.access_token, password),
      );

      await assertNoContent(response);
      await assertLoginRefused(await logIn(service, username, password));
    },
  );

  await t.step(
    "answers five deletions at once one 204 and four 401 Invalid token, counting none",
    async () => {
      const { username, password, tokens } = await signUpAndLogIn(service);
      const failures = await addressFailures(service);
      gathering.gather(5);

      const responses = await Promise.all(
        [1, 2, 3, 4, 5].map(() => remove(tokens.access_token, password)),
      );

      const statuses = responses.map((response) => response.status);
      assert.deepEqual(statuses.filter((status) => status !== 401), [204]);
      for (const response of responses) {
        if (response.status === 204) await assertNoContent(response);
        else await assertTokenRefused(response, "Invalid token");
      }
      assert.equal(await addressFailures(service), failures);
      await assertLoginRefused(await logIn(service, username, password));
    },
  );
});
