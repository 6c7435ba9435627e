import assert from "node:assert/strict";
import { AuthError } from "../src/auth_error.ts";
import {
  type LoginAttempt,
  LoginThrottle,
  ThrottledError,
} from "../src/login_throttle.ts";
import { Store } from "../src/store.ts";
import {
  assertOAuthError,
  assertThrottled,
  assertTokenPair,
  assertUnauthorized,
} from "./_assertions.ts";
import {
  countingHasher,
  FakeClock,
  json,
  openTestService,
  randomUsername,
  type TestService,
} from "./_helpers.ts";

const PASSWORD = "correct horse battery";
const WRONG = "wrong horse battery";
const MINUTE = 60_000;
const WINDOW = 15 * MINUTE;
const FORM = "application/x-www-form-urlencoded";

async function signUp(service: TestService, username: string): Promise<void> {
  const response = await service.fetch(
    "/signup",
    json({ username, password: PASSWORD }),
  );
  assert.equal(response.status, 201);
  await response.body?.cancel();
}

/** Logs in, from `address` if one is given. */
async function logIn(
  service: TestService,
  username: string,
  password: string,
  address?: string,
): Promise<Response> {
  const request = new Request(
    "http://localhost/login",
    json({ username, password }),
  );
  const info = address ? { remoteAddr: { hostname: address } } : undefined;
  return await service.handler(request, info);
}

/** Sends a password grant, from `address` if one is given. */
async function tokenGrant(
  service: TestService,
  username: string,
  password: string,
  address?: string,
): Promise<Response> {
  const body = new URLSearchParams({
    grant_type: "password",
    username,
    password,
  });
  return await service.fetch("/token", {
    method: "POST",
    headers: { "content-type": FORM },
    body: body.toString(),
  }, { address });
}

async function assertLoginFailed(response: Response): Promise<void> {
  await assertUnauthorized(response, "Invalid username or password", {
    tokenSent: false,
  });
}

/** Fails `count` logins for `username` with a wrong password. */
async function failLogins(
  service: TestService,
  username: string,
  count: number,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    await assertLoginFailed(await logIn(service, username, WRONG));
  }
}

/** The same text in full-width letters, which NFKC folds back. */
function fullWidth(text: string): string {
  return text.replace(
    /[!-~]/g,
    (char) => String.fromCharCode(char.charCodeAt(0) + 0xfee0),
  );
}

Deno.test("POST /login answers 429 once a name has failed too often in the window", async (t) => {
  const hasher = countingHasher();
  await using service = await openTestService({
    hasher,
    config: { loginMaxFailures: 5, loginWindowMs: WINDOW },
  });

  await t.step(
    "answers the 6th attempt 429 with the seconds left, hashing nothing",
    async () => {
      const username = randomUsername();
      await signUp(service, username);
      for (let i = 0; i < 5; i++) {
        if (i > 0) service.clock.advance(MINUTE + 500);
        await assertLoginFailed(await logIn(service, username, WRONG));
      }
      service.clock.advance(MINUTE + 500);
      const work = { hashed: hasher.hashed, verified: hasher.verified.length };

      const response = await logIn(service, username, WRONG);

      // 5 × 60.5 s into the 900 s window: 597.5 s left, rounded up.
      await assertThrottled(response, "598");
      assert.deepEqual(
        { hashed: hasher.hashed, verified: hasher.verified.length },
        work,
      );
    },
  );

  await t.step("refuses even the right password while throttled", async () => {
    const username = randomUsername();
    await signUp(service, username);
    await failLogins(service, username, 5);
    const verified = hasher.verified.length;

    const response = await logIn(service, username, PASSWORD);

    await assertThrottled(response, "900");
    assert.equal(hasher.verified.length, verified);
  });

  await t.step(
    "lets the right password in at the window's end, not a millisecond before",
    async () => {
      const username = randomUsername();
      await signUp(service, username);
      const start = service.clock.now();
      await failLogins(service, username, 5);
      // Attempts refused meanwhile leave the window's end where it was.
      for (let minutes = 1; minutes <= 14; minutes++) {
        service.clock.set(start + minutes * MINUTE);
        const response = await logIn(service, username, WRONG);
        await assertThrottled(response, String((15 - minutes) * 60));
      }

      service.clock.set(start + WINDOW - 1);
      await assertThrottled(await logIn(service, username, PASSWORD), "1");

      service.clock.set(start + WINDOW);
      await assertTokenPair(await logIn(service, username, PASSWORD));
    },
  );

  await t.step("starts counting afresh after a successful login", async () => {
    const username = randomUsername();
    await signUp(service, username);
    await failLogins(service, username, 4);
    await assertTokenPair(await logIn(service, username, PASSWORD));

    await failLogins(service, username, 4);

    await assertTokenPair(await logIn(service, username, PASSWORD));
  });

  await t.step("counts a name in any case or width as one name", async () => {
    const username = randomUsername("Alice");
    await signUp(service, username);
    const spellings = [
      username,
      username.toLowerCase(),
      username.toUpperCase(),
      fullWidth(username),
      fullWidth(username.toUpperCase()),
    ];
    for (const spelling of spellings) {
      await assertLoginFailed(await logIn(service, spelling, WRONG));
    }

    const response = await logIn(service, username.toLowerCase(), PASSWORD);

    await assertThrottled(response, "900");
  });

  await t.step("counts failures for a name nobody has", async () => {
    const username = randomUsername();
    await failLogins(service, username, 5);

    await assertThrottled(await logIn(service, username, WRONG), "900");
  });
});

/** The delays the service held answers back by while `run` ran. */
async function delaysDuring(
  service: TestService,
  run: () => Promise<void>,
): Promise<number[]> {
  const before = service.delays.length;
  await run();
  return service.delays.slice(before);
}

Deno.test("POST /login holds back each failure for a name from the 3rd on", async (t) => {
  await using service = await openTestService({
    config: { loginMaxFailures: 10, loginWindowMs: WINDOW },
  });

  await t.step(
    "waits 250 ms at the 3rd failure, doubling up to 2 s",
    async () => {
      const username = randomUsername();
      await signUp(service, username);

      const delays = await delaysDuring(
        service,
        () => failLogins(service, username, 8),
      );

      assert.deepEqual(delays, [250, 500, 1000, 2000, 2000, 2000]);
    },
  );

  await t.step("waits the same for a name nobody has", async () => {
    const username = randomUsername();

    const delays = await delaysDuring(
      service,
      () => failLogins(service, username, 8),
    );

    assert.deepEqual(delays, [250, 500, 1000, 2000, 2000, 2000]);
  });

  await t.step(
    "never holds back a success, and starts again from none after it",
    async () => {
      const username = randomUsername();
      await signUp(service, username);
      await failLogins(service, username, 4);

      const delays = await delaysDuring(service, async () => {
        await assertTokenPair(await logIn(service, username, PASSWORD));
        await failLogins(service, username, 2);
      });

      assert.deepEqual(delays, []);
    },
  );

  await t.step("answers 429 at once, without waiting", async () => {
    const username = randomUsername();
    await failLogins(service, username, 10);

    const delays = await delaysDuring(service, async () => {
      await assertThrottled(await logIn(service, username, WRONG), "900");
    });

    assert.deepEqual(delays, []);
  });

  await t.step(
    "slows a name by its own failures, not its address's",
    async () => {
      const address = "203.0.113.5";

      const delays = await delaysDuring(service, async () => {
        for (let i = 0; i < 6; i++) {
          const response = await logIn(
            service,
            randomUsername(),
            WRONG,
            address,
          );
          await assertLoginFailed(response);
        }
      });

      assert.deepEqual(delays, []);
    },
  );

  await t.step("waits at most a tenth of a short window", async () => {
    await using brief = await openTestService({
      config: { loginMaxFailures: 10, loginWindowMs: 5_000 },
    });
    const username = randomUsername();

    const delays = await delaysDuring(
      brief,
      () => failLogins(brief, username, 5),
    );

    assert.deepEqual(delays, [250, 500, 500]);
  });
});

Deno.test("POST /login lets no more guesses through than the limit when they race", async () => {
  await using service = await openTestService();
  const username = randomUsername();
  await signUp(service, username);

  const responses = await Promise.all(
    Array.from({ length: 20 }, () => logIn(service, username, WRONG)),
  );

  const statuses = responses.map((response) => response.status);
  assert.equal(statuses.filter((status) => status === 401).length, 5);
  assert.equal(statuses.filter((status) => status === 429).length, 15);
  await Promise.all(responses.map((response) => response.body?.cancel()));
});

Deno.test("POST /login answers 429 to an address that failed too often across names", async (t) => {
  const limit = 8;
  await using service = await openTestService({
    config: { loginMaxFailuresPerAddress: limit, loginWindowMs: WINDOW },
  });
  const address = "203.0.113.5";
  const username = randomUsername();
  await signUp(service, username);
  const start = service.clock.now();
  for (let i = 0; i < limit; i++) {
    service.clock.set(start + i * 1_000);
    const response = await logIn(service, randomUsername(), WRONG, address);
    await assertLoginFailed(response);
  }

  await t.step("refuses a further name from that address", async () => {
    const response = await logIn(service, username, PASSWORD, address);

    // The address's window opened 7 s ago.
    await assertThrottled(response, "893");
  });

  await t.step("lets the same name in from another address", async () => {
    const response = await logIn(service, username, PASSWORD, "198.51.100.7");

    await assertTokenPair(response);
  });

  await t.step("lets the same name in when no address is known", async () => {
    await assertTokenPair(await logIn(service, username, PASSWORD));
  });

  await t.step("lets the address in again at its window's end", async () => {
    service.clock.set(start + WINDOW);

    await assertTokenPair(await logIn(service, username, PASSWORD, address));
  });
});

/** The texts that failed logins are counted under, for one scope. */
async function countedKeys(
  service: TestService,
  scope: "username" | "address",
): Promise<string[]> {
  const keys: string[] = [];
  const entries = service.kv.list({ prefix: ["login_failures", scope] });
  for await (const entry of entries) keys.push(String(entry.key[2]));
  return keys;
}

Deno.test("POST /login and POST /token count a name too long to be anyone's against its address only", async (t) => {
  const limit = 4;
  await using service = await openTestService({
    config: { loginMaxFailuresPerAddress: limit, loginWindowMs: WINDOW },
  });
  const address = "203.0.113.5";
  // NFKC makes each U+FDFA 18 characters: 1,260 in all.
  const names = ["\ufdfa".repeat(70), "a".repeat(2040)];

  await t.step(
    "answers each as an unknown name and counts it for the address",
    async () => {
      for (const name of names) {
        await assertLoginFailed(await logIn(service, name, WRONG, address));
        await assertOAuthError(
          await tokenGrant(service, name, WRONG, address),
          "invalid_grant",
          "Invalid username or password",
        );
      }

      assert.deepEqual(await countedKeys(service, "address"), [address]);
      assert.deepEqual(await countedKeys(service, "username"), []);
    },
  );

  await t.step("refuses the address once it is at its limit", async () => {
    const username = randomUsername();
    await signUp(service, username);

    await assertThrottled(
      await logIn(service, username, PASSWORD, address),
      "900",
    );
    await assertOAuthError(
      await tokenGrant(service, names[0] ?? "", WRONG, address),
      "temporarily_unavailable",
      "Too many failed logins, try again later",
      429,
    );
  });

  await t.step(
    "holds nothing back, having no count for the name",
    async () => {
      const delays = await delaysDuring(service, async () => {
        for (let i = 0; i < 5; i++) {
          const name = names[1] ?? "";
          await assertLoginFailed(await logIn(service, name, WRONG));
        }
      });

      assert.deepEqual(delays, []);
      assert.deepEqual(await countedKeys(service, "username"), []);
    },
  );
});

Deno.test("POST /token answers temporarily_unavailable 429 to a throttled password grant", async (t) => {
  await using service = await openTestService({
    config: { loginMaxFailures: 5, loginWindowMs: WINDOW },
  });

  await t.step(
    "answers the 6th password grant 429 with Retry-After",
    async () => {
      const username = randomUsername();
      await signUp(service, username);
      for (let i = 0; i < 5; i++) {
        await assertOAuthError(
          await tokenGrant(service, username, WRONG),
          "invalid_grant",
          "Invalid username or password",
        );
      }
      service.clock.advance(MINUTE);

      const response = await tokenGrant(service, username, PASSWORD);

      await assertOAuthError(
        response,
        "temporarily_unavailable",
        "Too many failed logins, try again later",
        429,
      );
      assert.equal(response.headers.get("retry-after"), "840");
    },
  );

  await t.step(
    "holds back the 3rd and later failed password grants as POST /login does",
    async () => {
      const username = randomUsername();

      const delays = await delaysDuring(service, async () => {
        for (let i = 0; i < 5; i++) {
          const response = await tokenGrant(service, username, WRONG);
          assert.equal(response.status, 400);
          await response.body?.cancel();
        }
      });

      assert.deepEqual(delays, [250, 500, 1000]);
    },
  );

  await t.step("shares one count with POST /login", async () => {
    const username = randomUsername();
    await signUp(service, username);
    await failLogins(service, username, 3);
    for (let i = 0; i < 2; i++) {
      const response = await tokenGrant(service, username, WRONG);
      assert.equal(response.status, 400);
      await response.body?.cancel();
    }

    await assertThrottled(await logIn(service, username, PASSWORD), "900");
  });
});

/** A throttle on its own in-memory store; dispose of it with `await using`. */
async function openThrottle(
  limits: { maxFailures: number; maxFailuresPerAddress: number },
) {
  const kv = await Deno.openKv(":memory:");
  const store = new Store(kv);
  const clock = new FakeClock();
  const waits: number[] = [];
  const throttle = new LoginThrottle({
    store,
    clock,
    windowMs: MINUTE,
    wait: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
    ...limits,
  });
  return {
    throttle,
    store,
    clock,
    waits,
    [Symbol.asyncDispose]: () => Promise.resolve(kv.close()),
  };
}

async function assertRefused(
  check: Promise<unknown>,
  retryAfter: number,
): Promise<void> {
  await assert.rejects(check, (error) => {
    assert.ok(error instanceof ThrottledError, String(error));
    assert.equal(error.code, "too_many_failures");
    assert.equal(error.message, "Cannot log in: too many failed attempts");
    assert.equal(error.retryAfter, retryAfter);
    return true;
  });
}

async function failTimes(
  throttle: LoginThrottle,
  attempt: LoginAttempt,
  count: number,
): Promise<void> {
  for (let i = 0; i < count; i++) await throttle.reserve(attempt);
}

Deno.test("LoginThrottle.reserve() refuses a name at its limit until the window ends", async (t) => {
  await using env = await openThrottle({
    maxFailures: 3,
    maxFailuresPerAddress: 100,
  });
  const { throttle, store, clock } = env;
  const attempt = { userKey: randomUsername() };
  const start = clock.now();

  await t.step("counts attempts up to the limit", async () => {
    await failTimes(throttle, attempt, 3);
    assert.deepEqual(await store.getFailures("username", attempt.userKey), {
      count: 3,
      resetAt: start + MINUTE,
    });
  });

  await t.step(
    "throws ThrottledError with the seconds left at the limit, counting nothing",
    async () => {
      await assertRefused(throttle.reserve(attempt), 60);
      assert.equal(
        (await store.getFailures("username", attempt.userKey))?.count,
        3,
      );
    },
  );

  await t.step("rounds the seconds left up", async () => {
    clock.set(start + 999);
    await assertRefused(throttle.reserve(attempt), 60);
    clock.set(start + 1_000);
    await assertRefused(throttle.reserve(attempt), 59);
    clock.set(start + MINUTE - 1);
    await assertRefused(throttle.reserve(attempt), 1);
  });

  await t.step("passes at the window's end and counts afresh", async () => {
    clock.set(start + MINUTE);
    await throttle.reserve(attempt);
    assert.deepEqual(await store.getFailures("username", attempt.userKey), {
      count: 1,
      resetAt: start + 2 * MINUTE,
    });
  });
});

Deno.test("LoginThrottle.reserve() refuses an address at its limit for every name", async (t) => {
  await using env = await openThrottle({
    maxFailures: 100,
    maxFailuresPerAddress: 3,
  });
  const { throttle, store } = env;
  const address = "203.0.113.5";
  for (let i = 0; i < 3; i++) {
    await throttle.reserve({ userKey: randomUsername(), address });
  }

  await t.step(
    "throws for a name that never failed, and counts it nowhere",
    async () => {
      const userKey = randomUsername();
      await assertRefused(throttle.reserve({ userKey, address }), 60);
      assert.equal(await store.getFailures("username", userKey), null);
    },
  );

  await t.step(
    "passes for the same name from another address or none",
    async () => {
      const userKey = randomUsername();
      await throttle.reserve({ userKey, address: "198.51.100.7" });
      await throttle.reserve({ userKey });
    },
  );
});

Deno.test("LoginThrottle.reserve() counts an attempt without a name against its address only", async (t) => {
  await using env = await openThrottle({
    maxFailures: 1,
    maxFailuresPerAddress: 3,
  });
  const { throttle, store } = env;
  const address = "203.0.113.5";

  await t.step(
    "counts the address and answers no failures for a name",
    async () => {
      assert.equal(await throttle.reserve({ address }), 0);
      assert.equal(await throttle.reserve({ address }), 0);
      assert.equal((await store.getFailures("address", address))?.count, 2);
    },
  );

  await t.step("takes the address's count back on release()", async () => {
    await throttle.release({ address });
    assert.equal((await store.getFailures("address", address))?.count, 1);
  });

  await t.step("refuses at the address's limit", async () => {
    await throttle.reserve({ address });
    await throttle.reserve({ address });
    await assertRefused(throttle.reserve({ address }), 60);
  });
});

Deno.test("LoginThrottle.reserve() waits for the later window when both are at their limits", async () => {
  await using env = await openThrottle({
    maxFailures: 2,
    maxFailuresPerAddress: 3,
  });
  const { throttle, clock } = env;
  const userKey = randomUsername();
  const address = "203.0.113.5";
  await failTimes(throttle, { userKey }, 2);
  clock.advance(30_000);
  for (let i = 0; i < 3; i++) {
    await throttle.reserve({ userKey: randomUsername(), address });
  }

  await assertRefused(throttle.reserve({ userKey }), 30);
  await assertRefused(throttle.reserve({ userKey, address }), 60);
});

Deno.test("LoginThrottle.reserve() lets exactly the limit through when attempts race", async () => {
  await using env = await openThrottle({
    maxFailures: 5,
    maxFailuresPerAddress: 100,
  });
  const attempt = { userKey: randomUsername(), address: "203.0.113.5" };

  const results = await Promise.allSettled(
    Array.from({ length: 20 }, () => env.throttle.reserve(attempt)),
  );

  const passed = results.filter((result) => result.status === "fulfilled");
  assert.equal(passed.length, 5);
  assert.equal(
    (await env.store.getFailures("address", "203.0.113.5"))?.count,
    5,
  );
});

Deno.test("LoginThrottle.succeed() forgets the name's failures and takes back its own address count", async () => {
  await using env = await openThrottle({
    maxFailures: 3,
    maxFailuresPerAddress: 3,
  });
  const { throttle, store, clock } = env;
  const attempt = { userKey: randomUsername(), address: "203.0.113.5" };
  await failTimes(throttle, attempt, 3);

  await throttle.succeed(attempt);

  assert.equal(await store.getFailures("username", attempt.userKey), null);
  assert.deepEqual(await store.getFailures("address", attempt.address), {
    count: 2,
    resetAt: clock.now() + MINUTE,
  });
});

Deno.test("LoginThrottle.release() takes an attempt back from both counts", async () => {
  await using env = await openThrottle({
    maxFailures: 3,
    maxFailuresPerAddress: 3,
  });
  const { throttle, store } = env;
  const attempt = { userKey: randomUsername(), address: "203.0.113.5" };
  await failTimes(throttle, attempt, 2);

  await throttle.release(attempt);

  assert.equal(
    (await store.getFailures("username", attempt.userKey))?.count,
    1,
  );
  assert.equal((await store.getFailures("address", attempt.address))?.count, 1);
});

Deno.test("LoginThrottle.guard() keeps only wrong credentials counted", async (t) => {
  await using env = await openThrottle({
    maxFailures: 5,
    maxFailuresPerAddress: 100,
  });
  const { throttle, store, waits } = env;
  const attempt = { userKey: randomUsername(), address: "203.0.113.5" };
  const wrong = () =>
    Promise.reject(new AuthError("invalid_credentials", "Wrong password"));

  await t.step(
    "keeps a wrong password counted, waiting from the 3rd on",
    async () => {
      for (let i = 0; i < 3; i++) {
        await assert.rejects(throttle.guard(attempt, wrong), {
          code: "invalid_credentials",
        });
      }

      assert.equal(
        (await store.getFailures("username", attempt.userKey))?.count,
        3,
      );
      assert.deepEqual(waits, [250]);
    },
  );

  await t.step(
    "takes back a failure of another kind, waiting nothing",
    async () => {
      const broken = () => Promise.reject(new Error("Store is down"));

      await assert.rejects(throttle.guard(attempt, broken), {
        message: "Store is down",
      });

      assert.equal(
        (await store.getFailures("username", attempt.userKey))?.count,
        3,
      );
      assert.equal(
        (await store.getFailures("address", "203.0.113.5"))?.count,
        3,
      );
      assert.deepEqual(waits, [250]);
    },
  );

  await t.step(
    "answers the check's result and forgets the name's failures",
    async () => {
      assert.equal(await throttle.guard(attempt, () => Promise.resolve(7)), 7);

      assert.equal(await store.getFailures("username", attempt.userKey), null);
      assert.deepEqual(waits, [250]);
    },
  );
});
