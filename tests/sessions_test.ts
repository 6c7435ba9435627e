import assert from "node:assert/strict";
import {
  assertTokenPair,
  assertUnauthorized,
  JSON_TYPE,
  jwtClaims,
} from "./_assertions.ts";
import {
  bearer,
  FakeClock,
  json,
  openTestService,
  signUpAndLogIn,
  type TestService,
  type TokenPairBody,
} from "./_helpers.ts";

const START = Date.UTC(2026, 0, 1);

async function refresh(
  service: TestService,
  refreshToken: string,
): Promise<Response> {
  return await service.fetch("/refresh_token", bearer(refreshToken));
}

async function logInAgain(
  service: TestService,
  username: string,
  password: string,
): Promise<TokenPairBody> {
  const response = await service.fetch("/login", json({ username, password }));
  return await assertTokenPair(response);
}

async function assertSecretServed(
  service: TestService,
  accessToken: string,
): Promise<void> {
  const response = await service.fetch("/secret", bearer(accessToken));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), JSON_TYPE);
  await response.body?.cancel();
}

Deno.test("Access tokens work until one second before exp and expire at exp", async (t) => {
  const clock = new FakeClock(START);
  await using service = await openTestService({ clock });
  const { tokens } = await signUpAndLogIn(service);
  const exp = START + service.config.accessTokenTtlMs;
  assert.equal(jwtClaims(tokens.access_token).exp, exp / 1000);

  await t.step("works one second before exp", async () => {
    clock.set(exp - 1_000);
    await assertSecretServed(service, tokens.access_token);
  });

  await t.step("answers 401 Token expired exactly at exp", async () => {
    clock.set(exp);
    const response = await service.fetch(
      "/secret",
      bearer(tokens.access_token),
    );
    await assertUnauthorized(response, "Token expired", { tokenSent: true });
  });

  await t.step("answers 401 Token expired after exp", async () => {
    clock.set(exp + 60_000);
    const response = await service.fetch(
      "/secret",
      bearer(tokens.access_token),
    );
    await assertUnauthorized(response, "Token expired", { tokenSent: true });
  });
});

Deno.test("Refresh tokens work until one second before exp and expire at exp", async (t) => {
  const clock = new FakeClock(START);
  await using service = await openTestService({ clock });
  const { username, password, tokens } = await signUpAndLogIn(service);
  const atExp = await logInAgain(service, username, password);
  const afterExp = await logInAgain(service, username, password);
  const exp = START + service.config.refreshTokenTtlMs;
  assert.equal(jwtClaims(tokens.refresh_token).exp, exp / 1000);

  await t.step("works one second before exp", async () => {
    clock.set(exp - 1_000);
    const pair = await assertTokenPair(
      await refresh(service, tokens.refresh_token),
    );
    await assertSecretServed(service, pair.access_token);
  });

  await t.step("answers 401 Refresh token expired exactly at exp", async () => {
    clock.set(exp);
    const response = await refresh(service, atExp.refresh_token);
    await assertUnauthorized(response, "Refresh token expired", {
      tokenSent: true,
    });
  });

  await t.step("answers 401 Refresh token expired after exp", async () => {
    clock.set(exp + 60_000);
    const response = await refresh(service, afterExp.refresh_token);
    await assertUnauthorized(response, "Refresh token expired", {
      tokenSent: true,
    });
  });
});

Deno.test("Refresh rotation treats a rotated token as stolen and ends the session", async (t) => {
  const clock = new FakeClock(START);
  await using service = await openTestService({ clock });
  const interval = service.config.refreshReuseIntervalMs;

  await t.step(
    "answers 401 Refresh token reused after the interval, and the newest token fails too",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      const next = await assertTokenPair(
        await refresh(service, tokens.refresh_token),
      );
      clock.advance(interval + 1_000);
      await assertUnauthorized(
        await refresh(service, tokens.refresh_token),
        "Refresh token reused",
        { tokenSent: true },
      );
      await assertUnauthorized(
        await refresh(service, next.refresh_token),
        "Invalid refresh token",
        { tokenSent: true },
      );
      await assertUnauthorized(
        await service.fetch("/me", bearer(next.access_token)),
        "Invalid token",
        { tokenSent: true },
      );
    },
  );

  await t.step(
    "counts a token presented exactly at the end of the interval as reused",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      const next = await assertTokenPair(
        await refresh(service, tokens.refresh_token),
      );
      clock.advance(interval);
      await assertUnauthorized(
        await refresh(service, tokens.refresh_token),
        "Refresh token reused",
        { tokenSent: true },
      );
      await assertUnauthorized(
        await refresh(service, next.refresh_token),
        "Invalid refresh token",
        { tokenSent: true },
      );
    },
  );

  await t.step(
    "counts a token two rotations old as reused even within the interval",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      const second = await assertTokenPair(
        await refresh(service, tokens.refresh_token),
      );
      const third = await assertTokenPair(
        await refresh(service, second.refresh_token),
      );
      await assertUnauthorized(
        await refresh(service, tokens.refresh_token),
        "Refresh token reused",
        { tokenSent: true },
      );
      await assertUnauthorized(
        await refresh(service, third.refresh_token),
        "Invalid refresh token",
        { tokenSent: true },
      );
    },
  );

  await t.step("leaves the user's other sessions alone", async () => {
    const { username, password, tokens } = await signUpAndLogIn(service);
    const other = await logInAgain(service, username, password);
    await assertTokenPair(await refresh(service, tokens.refresh_token));
    clock.advance(interval);
    await assertUnauthorized(
      await refresh(service, tokens.refresh_token),
      "Refresh token reused",
      { tokenSent: true },
    );
    await assertTokenPair(await refresh(service, other.refresh_token));
  });
});

Deno.test("Refresh grace gives the just-rotated token the current refresh token back", async (t) => {
  const clock = new FakeClock(START);
  await using service = await openTestService({ clock });
  const interval = service.config.refreshReuseIntervalMs;

  await t.step(
    "answers a new access token and the byte-identical current refresh token",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      const first = await assertTokenPair(
        await refresh(service, tokens.refresh_token),
      );
      clock.advance(interval - 1);
      // 36000 s from the rotation, less the 9.999 s since, rounded up.
      const again = await assertTokenPair(
        await refresh(service, tokens.refresh_token),
        { refreshExpiresIn: 35991 },
      );
      assert.equal(again.refresh_token, first.refresh_token);
      assert.notEqual(again.access_token, first.access_token);
      await assertSecretServed(service, again.access_token);
    },
  );

  await t.step(
    "does not rotate a second time: the current token still works once",
    async () => {
      // On a whole second again, so lifetimes in the answers come out round.
      clock.set(START + 60_000);
      const { tokens } = await signUpAndLogIn(service);
      const first = await assertTokenPair(
        await refresh(service, tokens.refresh_token),
      );
      await assertTokenPair(await refresh(service, tokens.refresh_token));
      const next = await assertTokenPair(
        await refresh(service, first.refresh_token),
      );
      assert.notEqual(next.refresh_token, first.refresh_token);
      assert.equal(jwtClaims(next.refresh_token).gen, 2);
    },
  );
});

Deno.test("Access and refresh tokens cannot stand in for each other", async (t) => {
  await using service = await openTestService({ clock: new FakeClock() });

  await t.step(
    "an access token offered as refresh token answers 401 Invalid refresh token",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      const response = await refresh(service, tokens.access_token);
      await assertUnauthorized(response, "Invalid refresh token", {
        tokenSent: true,
      });
    },
  );

  await t.step(
    "a refresh token offered on /secret answers 401 Invalid token",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      const response = await service.fetch(
        "/secret",
        bearer(tokens.refresh_token),
      );
      await assertUnauthorized(response, "Invalid token", { tokenSent: true });
    },
  );
});

Deno.test("Concurrent refreshes of one token all succeed and leave one current token", async (t) => {
  await using service = await openTestService({ clock: new FakeClock() });

  await t.step("five at once get the same new refresh token", async () => {
    const { tokens } = await signUpAndLogIn(service);
    const responses = await Promise.all(
      Array.from({ length: 5 }, () => refresh(service, tokens.refresh_token)),
    );
    const pairs = await Promise.all(
      responses.map((response) => assertTokenPair(response)),
    );
    const current = new Set(pairs.map((pair) => pair.refresh_token));
    assert.equal(current.size, 1);
    const [token = ""] = current;
    assert.notEqual(token, tokens.refresh_token);
    assert.equal(jwtClaims(token).gen, 1);
    await assertTokenPair(await refresh(service, token));
  });
});
