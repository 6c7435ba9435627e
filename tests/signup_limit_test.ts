import assert from "node:assert/strict";
import { assertProblem, JSON_TYPE } from "./_assertions.ts";
import {
  countingHasher,
  json,
  openTestService,
  PASSWORD,
  randomUsername,
  type TestService,
} from "./_helpers.ts";
import { busyHasher } from "./_openapi_cases.ts";

const MINUTE = 60_000;
const WINDOW = 15 * MINUTE;
const ADDRESS = "203.0.113.5";

/** Posts a signup, from `address` if one is given. */
async function signUpFrom(
  service: TestService,
  address: string | undefined,
  username = randomUsername(),
  password = PASSWORD,
): Promise<Response> {
  return await service.fetch("/signup", json({ username, password }), {
    address,
  });
}

async function assertCreated(response: Response): Promise<void> {
  assert.equal(response.status, 201);
  assert.equal(response.headers.get("content-type"), JSON_TYPE);
  await response.body?.cancel();
}

async function assertLimited(
  response: Response,
  retryAfter: string,
): Promise<void> {
  await assertProblem(response, 429, "Too many signups, try again later");
  assert.equal(response.headers.get("retry-after"), retryAfter);
}

Deno.test("POST /signup answers 429 to an address past SIGNUP_MAX_PER_ADDRESS in the window", async (t) => {
  const hasher = countingHasher();
  await using service = await openTestService({
    hasher,
    config: { signupMaxPerAddress: 3, loginWindowMs: WINDOW },
  });
  const start = service.clock.now();

  await t.step(
    "answers the 4th signup 429 with the seconds left, hashing nothing",
    async () => {
      for (let i = 0; i < 3; i++) {
        service.clock.set(start + i * MINUTE);
        await assertCreated(await signUpFrom(service, ADDRESS));
      }
      service.clock.set(start + 3 * MINUTE + 500);
      const hashed = hasher.hashed;
      const username = randomUsername();

      const response = await signUpFrom(service, ADDRESS, username);

      // 180.5 s into the 900 s window: 719.5 s left, rounded up.
      await assertLimited(response, "720");
      assert.equal(hasher.hashed, hashed);
      await assertCreated(await signUpFrom(service, undefined, username));
    },
  );

  await t.step(
    "lets other addresses and unknown ones sign up meanwhile",
    async () => {
      await assertCreated(await signUpFrom(service, "198.51.100.7"));
      for (let i = 0; i < 5; i++) {
        await assertCreated(await signUpFrom(service, undefined));
      }
    },
  );

  await t.step(
    "lets the address sign up again at the window's end, not a millisecond before",
    async () => {
      service.clock.set(start + WINDOW - 1);
      await assertLimited(await signUpFrom(service, ADDRESS), "1");

      service.clock.set(start + WINDOW);
      await assertCreated(await signUpFrom(service, ADDRESS));
    },
  );

  await t.step("counts a signup refused as taken", async () => {
    const address = "192.0.2.10";
    const username = randomUsername();
    await assertCreated(await signUpFrom(service, address, username));
    for (let i = 0; i < 2; i++) {
      const response = await signUpFrom(service, address, username);
      await assertProblem(response, 409, "Account already exists");
    }

    await assertLimited(await signUpFrom(service, address), "900");
  });

  await t.step("does not count a signup refused for its body", async () => {
    const address = "192.0.2.11";
    for (let i = 0; i < 5; i++) {
      const response = await signUpFrom(service, address, undefined, "short");
      assert.equal(response.status, 422);
      await response.body?.cancel();
    }

    for (let i = 0; i < 3; i++) {
      await assertCreated(await signUpFrom(service, address));
    }
  });

  await t.step("lets exactly the limit through when signups race", async () => {
    const address = "192.0.2.12";

    const responses = await Promise.all(
      Array.from({ length: 10 }, () => signUpFrom(service, address)),
    );

    const statuses = responses.map((response) => response.status);
    assert.equal(statuses.filter((status) => status === 201).length, 3);
    assert.equal(statuses.filter((status) => status === 429).length, 7);
    await Promise.all(responses.map((response) => response.body?.cancel()));
  });
});

Deno.test("POST /signup does not count a signup the service could not finish", async () => {
  const hasher = busyHasher();
  await using service = await openTestService({
    hasher,
    config: { signupMaxPerAddress: 1 },
  });
  hasher.full = true;
  const refused = await signUpFrom(service, ADDRESS);
  await assertProblem(
    refused,
    503,
    "Too many passwords being hashed, try again shortly",
  );
  hasher.full = false;

  await assertCreated(await signUpFrom(service, ADDRESS));
});
