import assert from "node:assert/strict";
import {
  assertLoginRefused,
  assertProblem,
  assertTokenPair,
  assertTokenRefused,
  JSON_TYPE,
} from "./_assertions.ts";
import {
  bearer,
  countingHasher,
  gatheringHasher,
  json,
  logIn,
  openTestService,
  randomUsername,
  refresh,
  signUpAndLogIn,
  type TestService,
} from "./_helpers.ts";
import { HashQueueFullError } from "../src/hash_pool.ts";
import { createPasswordHasher, hashCost } from "../src/passwords.ts";
import { Store } from "../src/store.ts";
import { usernameKey } from "../src/username.ts";

async function storedHash(
  service: TestService,
  username: string,
): Promise<{ hash: string; versionstamp: string }> {
  const entry = await new Store(service.kv).getUser(usernameKey(username));
  assert.ok(entry, `No user stored under "${username}"`);
  return {
    hash: entry.value.passwordHash,
    versionstamp: entry.versionstamp,
  };
}

Deno.test("POST /signup lets exactly one of 20 racing signups for a name win", async (t) => {
  await using service = await openTestService();

  async function race(names: string[]): Promise<void> {
    const passwords = names.map((_, i) => `password number ${i}`);
    const responses = await Promise.all(
      names.map((username, i) =>
        service.fetch("/signup", json({ username, password: passwords[i] }))
      ),
    );
    const statuses = responses.map((response) => response.status);
    assert.equal(statuses.filter((status) => status === 201).length, 1);
    assert.equal(statuses.filter((status) => status === 409).length, 19);
    const winner = statuses.indexOf(201);
    for (const [i, response] of responses.entries()) {
      if (i === winner) continue;
      await assertProblem(response, 409, "Account already exists");
    }
    const created = responses[winner];
    assert.ok(created);
    assert.equal(created.headers.get("content-type"), JSON_TYPE);
    assert.equal((await created.json()).username, names[winner]);

    const owner = await logIn(service, names[0] ?? "", passwords[winner] ?? "");
    await assertTokenPair(owner);
    const loser = await logIn(
      service,
      names[0] ?? "",
      passwords[(winner + 1) % names.length] ?? "",
    );
    await assertLoginRefused(loser);
  }

  await t.step(
    "in one spelling: one 201, nineteen 409, the winner's password logs in",
    async () => {
      const username = randomUsername();
      await race(Array.from({ length: 20 }, () => username));
    },
  );

  await t.step("in twenty spellings of one name: the same", async () => {
    const base = randomUsername("racer");
    const names = Array.from(
      { length: 20 },
      (_, i) =>
        [...base].map((c, j) => (i >> (j % 5)) & 1 ? c.toUpperCase() : c)
          .join(""),
    );
    await race(names);
  });
});

Deno.test("POST /login upgrades a hash of lower cost than configured", async (t) => {
  await using cheap = await openTestService({ config: { bcryptCost: 4 } });
  // The same store under a higher cost, as after raising BCRYPT_COST; it
  // shares the KV, so only `cheap` closes it.
  const costly = await openTestService({
    kv: cheap.kv,
    clock: cheap.clock,
    config: { bcryptCost: 5 },
  });

  await t.step(
    "stores the hash at the configured cost and keeps sessions",
    async () => {
      const { username, password, tokens } = await signUpAndLogIn(cheap);
      assert.match((await storedHash(cheap, username)).hash, /^\$2b\$04\$/);

      await assertTokenPair(await logIn(costly, username, password));
      assert.match((await storedHash(costly, username)).hash, /^\$2b\$05\$/);

      const me = await costly.fetch("/me", bearer(tokens.access_token));
      assert.equal(me.status, 200);
      assert.equal(me.headers.get("content-type"), JSON_TYPE);
      assert.equal((await me.json()).username, username);
      await assertTokenPair(await refresh(costly, tokens.refresh_token));
      await assertTokenPair(await logIn(costly, username, password));
    },
  );

  await t.step(
    "leaves a hash already at the configured cost as it is",
    async () => {
      const { username, password } = await signUpAndLogIn(costly);
      const before = await storedHash(costly, username);
      assert.match(before.hash, /^\$2b\$05\$/);
      await assertTokenPair(await logIn(costly, username, password));
      assert.equal((await storedHash(costly, username)).hash, before.hash);
    },
  );

  await t.step("does not upgrade on a wrong password", async () => {
    const { username } = await signUpAndLogIn(cheap);
    const before = await storedHash(cheap, username);
    const response = await logIn(costly, username, "not the password");
    await assertLoginRefused(response);
    assert.deepEqual(await storedHash(costly, username), before);
  });
});

Deno.test("POST /password also ends a session whose login raced the change", async () => {
  const bcrypt = createPasswordHasher({ cost: 4 });
  let duringNextHash: (() => Promise<void>) | undefined;
  await using service = await openTestService({
    hasher: {
      verify: bcrypt.verify,
      async hash(password) {
        const pause = duringNextHash;
        duringNextHash = undefined;
        await pause?.();
        return await bcrypt.hash(password);
      },
    },
  });
  const { username, password, tokens } = await signUpAndLogIn(service);
  let raced: Response | undefined;
  duringNextHash = async () => {
    raced = await logIn(service, username, password);
  };

  const change = await service.fetch(
    "/password",
    json({ current_password: password, new_password: "a new password" }, {
      token: tokens.access_token,
    }),
  );

  assert.equal(change.status, 204);
  assert.ok(raced);
  const racedPair = await assertTokenPair(raced);
  await assertTokenRefused(
    await refresh(service, racedPair.refresh_token),
    "Invalid refresh token",
  );
});

Deno.test("POST /login spends one bcrypt verify at the configured cost whether or not the name exists", async (t) => {
  const hasher = countingHasher(5);
  await using service = await openTestService({
    hasher,
    config: { bcryptCost: 5 },
  });
  const { username } = await signUpAndLogIn(service);

  /** The costs of the hashes verified while `login` ran. */
  async function verifiedCosts(username: string, password: string) {
    const before = hasher.verified.length;
    const response = await logIn(service, username, password);
    await assertLoginRefused(response);
    return hasher.verified.slice(before).map(hashCost);
  }

  await t.step("a wrong password for a known name", async () => {
    assert.deepEqual(await verifiedCosts(username, "not the password"), [5]);
  });

  await t.step("an unknown name", async () => {
    assert.deepEqual(await verifiedCosts(randomUsername(), "a password"), [5]);
  });

  await t.step("a name that signup would refuse", async () => {
    assert.deepEqual(await verifiedCosts("no such name", "a password"), [5]);
  });

  await t.step("a name NFKC makes 1,260 characters long", async () => {
    const name = "\ufdfa".repeat(70);
    assert.deepEqual(await verifiedCosts(name, "a password"), [5]);
  });

  await t.step("a name of 2,040 characters", async () => {
    const name = "a".repeat(2040);
    assert.deepEqual(await verifiedCosts(name, "a password"), [5]);
  });

  await t.step("an unknown name with a password over 72 bytes", async () => {
    const password = "p".repeat(100);
    assert.deepEqual(await verifiedCosts(randomUsername(), password), [5]);
  });

  await t.step("hashes nothing more for further unknown names", async () => {
    const hashed = hasher.hashed;
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await verifiedCosts(randomUsername(), "password"), [5]);
    }
    assert.equal(hasher.hashed, hashed);
  });
});

Deno.test("POST /login answers an unknown name 401 again once hashing has recovered", async (t) => {
  const bcrypt = createPasswordHasher({ cost: 4 });
  let queueFull = true;
  await using service = await openTestService({
    hasher: {
      verify: bcrypt.verify,
      hash: (password) =>
        queueFull
          ? Promise.reject(new HashQueueFullError(1))
          : bcrypt.hash(password),
    },
  });

  await t.step("answers 503 while the hashing queue is full", async () => {
    const response = await logIn(service, randomUsername(), "a password");
    await assertProblem(
      response,
      503,
      "Too many passwords being hashed, try again shortly",
    );
  });

  await t.step("answers 401 once the queue has room again", async () => {
    queueFull = false;
    const response = await logIn(service, randomUsername(), "a password");
    await assertLoginRefused(response);
  });
});

Deno.test("POST /login checks the password once per login, even when logins of one account race", async () => {
  const counting = countingHasher();
  const hasher = gatheringHasher(counting);
  await using service = await openTestService({ hasher });
  const { username, password } = await signUpAndLogIn(service);
  const before = counting.verified.length;
  // All five logins read the account before any of them writes it.
  hasher.gather(5);

  const responses = await Promise.all(
    Array.from({ length: 5 }, () => logIn(service, username, password)),
  );

  for (const response of responses) await assertTokenPair(response);
  assert.equal(counting.verified.length - before, 5);
});
