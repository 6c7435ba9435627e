import assert from "node:assert/strict";
import {
  assertTokenPair,
  assertTokenRefused,
  JSON_TYPE,
  jwtClaims,
} from "./_assertions.ts";
import {
  bearer,
  FakeClock,
  logIn,
  openTestService,
  refresh,
  signUpAndLogIn,
  signUpWithTwoSessions,
  type TestService,
  type TokenPairBody,
} from "./_helpers.ts";
import type { Clock } from "../src/clock.ts";
import { SESSION_CHECK_INTERVAL_MS, Sessions } from "../src/sessions.ts";
import { Store } from "../src/store.ts";
import { createTokens } from "../src/tokens.ts";

const START = Date.UTC(2026, 0, 1);

async function assertSecretServed(
  service: TestService,
  accessToken: string,
): Promise<void> {
  const response = await service.fetch("/secret", bearer(accessToken));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), JSON_TYPE);
  await response.body?.cancel();
}

/** Refreshes a token that is due to work, and answers the new pair. */
async function rotate(
  service: TestService,
  refreshToken: string,
): Promise<TokenPairBody> {
  return await assertTokenPair(await refresh(service, refreshToken));
}

/**
 * Asserts that `stolen`, an already rotated token, counts as reused, and
 * that the reuse ended its session: `current`, the newest refresh token,
 * is refused too.
 */
async function assertSessionEnded(
  service: TestService,
  stolen: string,
  current: string,
): Promise<void> {
  await assertTokenRefused(
    await refresh(service, stolen),
    "Refresh token reused",
  );
  await assertTokenRefused(
    await refresh(service, current),
    "Invalid refresh token",
  );
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

  const late = [["exactly at", exp], ["after", exp + 60_000]] as const;
  for (const [when, now] of late) {
    await t.step(`answers 401 Token expired ${when} exp`, async () => {
      clock.set(now);
      const response = await service.fetch(
        "/secret",
        bearer(tokens.access_token),
      );
      await assertTokenRefused(response, "Token expired");
    });
  }
});

Deno.test("Refresh tokens work until one second before exp and expire at exp", async (t) => {
  const clock = new FakeClock(START);
  await using service = await openTestService({ clock });
  const { username, password, tokens } = await signUpAndLogIn(service);
  const atExp = await assertTokenPair(await logIn(service, username, password));
  const afterExp = await assertTokenPair(
    await logIn(service, username, password),
  );
  const exp = START + service.config.refreshTokenTtlMs;
  assert.equal(jwtClaims(tokens.refresh_token).exp, exp / 1000);

  await t.step("works one second before exp", async () => {
    clock.set(exp - 1_000);
    const pair = await rotate(service, tokens.refresh_token);
    await assertSecretServed(service, pair.access_token);
  });

  const late = [
    ["exactly at", exp, atExp],
    ["after", exp + 60_000, afterExp],
  ] as const;
  for (const [when, now, pair] of late) {
    await t.step(`answers 401 Refresh token expired ${when} exp`, async () => {
      clock.set(now);
      const response = await refresh(service, pair.refresh_token);
      await assertTokenRefused(response, "Refresh token expired");
    });
  }
});

Deno.test("Refresh rotation treats a rotated token as stolen and ends the session", async (t) => {
  const clock = new FakeClock(START);
  await using service = await openTestService({ clock });
  const interval = service.config.refreshReuseIntervalMs;

  await t.step(
    "answers 401 Refresh token reused after the interval, and the newest token fails too",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      const next = await rotate(service, tokens.refresh_token);
      clock.advance(interval + 1_000);
      await assertSessionEnded(
        service,
        tokens.refresh_token,
        next.refresh_token,
      );
      await assertTokenRefused(
        await service.fetch("/me", bearer(next.access_token)),
        "Invalid token",
      );
    },
  );

  await t.step(
    "counts a token presented exactly at the end of the interval as reused",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      const next = await rotate(service, tokens.refresh_token);
      clock.advance(interval);
      await assertSessionEnded(
        service,
        tokens.refresh_token,
        next.refresh_token,
      );
    },
  );

  await t.step(
    "counts a token two rotations old as reused even within the interval",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      const second = await rotate(service, tokens.refresh_token);
      const third = await rotate(service, second.refresh_token);
      await assertSessionEnded(
        service,
        tokens.refresh_token,
        third.refresh_token,
      );
    },
  );

  await t.step("leaves the user's other sessions alone", async () => {
    const { tokens, other } = await signUpWithTwoSessions(service);
    await rotate(service, tokens.refresh_token);
    clock.advance(interval);
    await assertTokenRefused(
      await refresh(service, tokens.refresh_token),
      "Refresh token reused",
    );
    await rotate(service, other.refresh_token);
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
      const first = await rotate(service, tokens.refresh_token);
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
      const first = await rotate(service, tokens.refresh_token);
      await rotate(service, tokens.refresh_token);
      const next = await rotate(service, first.refresh_token);
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
      await assertTokenRefused(response, "Invalid refresh token");
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
      await assertTokenRefused(response, "Invalid token");
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
    await rotate(service, token);
  });
});

const SHARED_SECRET = new TextEncoder().encode(
  "a-shared-secret-of-32-bytes-or-more",
);

/** One instance of the service's sessions on a store others may share. */
async function openSessions(store: Store, clock: Clock): Promise<Sessions> {
  return new Sessions({
    store,
    tokens: await createTokens(SHARED_SECRET, {
      clock,
      accessTtlMs: 1_800_000,
    }),
    clock,
    accessTtlMs: 1_800_000,
    refreshTtlMs: 36_000_000,
    reuseIntervalMs: 10_000,
  });
}

/** Stores the account "alice" and answers its version, to log in with. */
async function storeAlice(store: Store): Promise<string> {
  await store.createUser("alice", {
    username: "alice",
    passwordHash: "x",
    createdAt: START,
    updatedAt: START,
  });
  const user = await store.getUser("alice");
  assert.ok(user);
  return user.versionstamp;
}

Deno.test("Sessions.authenticate() on another instance refuses an ended session within the check interval", async (t) => {
  await using kv = await Deno.openKv(":memory:");
  const clock = new FakeClock(START);
  const store = new Store(kv);
  const [here, there] = [
    await openSessions(store, clock),
    await openSessions(store, clock),
  ];
  const userVersion = await storeAlice(store);
  const pair = await here.start("alice", { userVersion });
  const claims = await there.authenticate(pair.accessToken);

  await here.end(claims);

  await t.step("the instance that ended it refuses at once", async () => {
    assert.equal(here.recall(pair.accessToken), undefined);
    await assert.rejects(here.authenticate(pair.accessToken), {
      code: "access_invalid",
    });
  });

  await t.step("the other trusts what it saw until the interval ends", () => {
    clock.advance(SESSION_CHECK_INTERVAL_MS - 1);

    assert.equal(there.recall(pair.accessToken)?.sub, "alice");
  });

  await t.step("then reads the store and refuses", async () => {
    clock.advance(1);

    assert.equal(there.recall(pair.accessToken), undefined);
    await assert.rejects(there.authenticate(pair.accessToken), {
      code: "access_invalid",
    });
  });

  await t.step("a live-session check never trusts what it saw", async () => {
    const fresh = await here.start("alice", { userVersion });
    const seen = await there.authenticate(fresh.accessToken);
    await here.end(seen);

    await assert.rejects(
      there.authenticate(fresh.accessToken, { liveSession: true }),
      { code: "access_invalid" },
    );
  });
});

Deno.test("Sessions.start() tells the whole refresh lifetime even as a second turns", async () => {
  await using kv = await Deno.openKv(":memory:");
  // Every read of this clock is a millisecond later, starting just before
  // a whole second.
  let now = START + 999;
  const clock = { now: () => now++ };
  const store = new Store(kv);
  const sessions = await openSessions(store, clock);
  const userVersion = await storeAlice(store);

  const pair = await sessions.start("alice", { userVersion });

  assert.equal(pair.refreshExpiresIn, 36_000);
  assert.equal(pair.expiresIn, 1_800);
});
