import assert from "node:assert/strict";
import {
  MAX_KEY_TEXT_BYTES,
  type SessionRecord,
  Store,
  StoreKeyError,
  type UserRecord,
} from "../src/store.ts";
import { randomUsername } from "./_helpers.ts";

const NOW = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

async function openStore(): Promise<Store & AsyncDisposable> {
  const kv = await Deno.openKv(":memory:");
  return Object.assign(new Store(kv), {
    [Symbol.asyncDispose]: () => Promise.resolve(kv.close()),
  });
}

function user(username: string, overrides: Partial<UserRecord> = {}) {
  return {
    username,
    passwordHash: "$2b$04$" + "a".repeat(53),
    createdAt: NOW,
    updatedAt: NOW,
    ...overrides,
  };
}

function session(
  userKey: string,
  overrides: Partial<SessionRecord> = {},
): SessionRecord {
  return {
    id: crypto.randomUUID(),
    userKey,
    generation: 0,
    jti: crypto.randomUUID(),
    issuedAt: NOW,
    expiresAt: NOW + 10 * HOUR,
    rotatedAt: 0,
    createdAt: NOW,
    ...overrides,
  };
}

async function addSessions(
  store: Store,
  key: string,
  count: number,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const record = session(key);
    assert.equal(
      await store.saveSession(record, { expireInMs: 10 * HOUR }),
      true,
    );
    ids.push(record.id);
  }
  return ids;
}

async function createdUser(store: Store, key: string) {
  assert.equal(await store.createUser(key, user(key)), true);
  const entry = await store.getUser(key);
  assert.ok(entry);
  return entry;
}

Deno.test("Store.ping() answers while the database is open", async () => {
  await using store = await openStore();

  await store.ping();
});

Deno.test("Store.getUser() answers null for an unknown key", async () => {
  await using store = await openStore();

  assert.equal(await store.getUser("nobody"), null);
});

Deno.test("Store.createUser() stores a user readable with its versionstamp", async () => {
  await using store = await openStore();
  const key = randomUsername();

  assert.equal(await store.createUser(key, user("Alice")), true);

  const entry = await store.getUser(key);
  assert.deepEqual(entry?.value, user("Alice"));
  assert.match(entry?.versionstamp ?? "", /^[0-9a-f]{20}$/);
});

Deno.test("Store.createUser() refuses a key that is taken", async (t) => {
  await using store = await openStore();
  const key = randomUsername();

  await t.step("one after the other, keeping the first record", async () => {
    assert.equal(await store.createUser(key, user("first")), true);

    assert.equal(await store.createUser(key, user("second")), false);

    assert.equal((await store.getUser(key))?.value.username, "first");
  });

  await t.step("ten at once: exactly one wins", async () => {
    const racing = randomUsername();

    const results = await Promise.all(
      Array.from(
        { length: 10 },
        (_, i) => store.createUser(racing, user(`racer${i}`)),
      ),
    );

    assert.equal(results.filter((ok) => ok).length, 1);
    const winner = results.indexOf(true);
    assert.equal(
      (await store.getUser(racing))?.value.username,
      `racer${winner}`,
    );
  });
});

Deno.test("Store.saveSession() writes a session and lists it under its user", async () => {
  await using store = await openStore();
  const key = randomUsername();
  const record = session(key);

  assert.equal(
    await store.saveSession(record, { sessionVersion: null, expireInMs: HOUR }),
    true,
  );

  const entry = await store.getSession(record.id);
  assert.deepEqual(entry?.value, record);
  assert.deepEqual(await store.listSessionIds(key), [record.id]);
  assert.deepEqual(await store.listSessionIds(randomUsername()), []);
});

Deno.test("Store.saveSession() writes nothing when a version it checks has moved", async (t) => {
  await using store = await openStore();
  const key = randomUsername();
  const userEntry = await createdUser(store, key);

  await t.step("a session that must be new but exists", async () => {
    const record = session(key);
    await store.saveSession(record, { expireInMs: HOUR });

    const saved = await store.saveSession({ ...record, generation: 1 }, {
      sessionVersion: null,
      expireInMs: HOUR,
    });

    assert.equal(saved, false);
    assert.equal((await store.getSession(record.id))?.value.generation, 0);
  });

  await t.step("a session rotated since it was read", async () => {
    const record = session(key);
    await store.saveSession(record, { expireInMs: HOUR });
    const read = await store.getSession(record.id);
    assert.ok(read);
    await store.saveSession({ ...record, generation: 1 }, {
      sessionVersion: read.versionstamp,
      expireInMs: HOUR,
    });

    const saved = await store.saveSession({ ...record, generation: 2 }, {
      sessionVersion: read.versionstamp,
      expireInMs: HOUR,
    });

    assert.equal(saved, false);
    assert.equal((await store.getSession(record.id))?.value.generation, 1);
  });

  await t.step("a user changed since it was read", async () => {
    const changed = user(key, { updatedAt: NOW + 1 });
    assert.equal(
      await store.updateUser(key, userEntry.versionstamp, changed, []),
      true,
    );
    const record = session(key);

    const saved = await store.saveSession(record, {
      sessionVersion: null,
      userVersion: userEntry.versionstamp,
      user: user(key, { passwordHash: "replaced" }),
      expireInMs: HOUR,
    });

    assert.equal(saved, false);
    assert.equal(await store.getSession(record.id), null);
    assert.equal((await store.getUser(key))?.value.updatedAt, NOW + 1);
  });
});

Deno.test("Store.saveSession() replaces the user record in the same write", async () => {
  await using store = await openStore();
  const key = randomUsername();
  const entry = await createdUser(store, key);
  const upgraded = user(key, { passwordHash: "upgraded", updatedAt: NOW + 5 });

  const saved = await store.saveSession(session(key), {
    sessionVersion: null,
    userVersion: entry.versionstamp,
    user: upgraded,
    expireInMs: HOUR,
  });

  assert.equal(saved, true);
  assert.deepEqual((await store.getUser(key))?.value, upgraded);
});

Deno.test("Store.deleteSession() removes the session and its index entry", async () => {
  await using store = await openStore();
  const key = randomUsername();
  const [gone, kept] = await addSessions(store, key, 2);

  await store.deleteSession(key, gone ?? "");

  assert.equal(await store.getSession(gone ?? ""), null);
  assert.ok(await store.getSession(kept ?? ""));
  assert.deepEqual(await store.listSessionIds(key), [kept]);
});

Deno.test("Store.updateUser() replaces the user and revokes the given sessions", async () => {
  await using store = await openStore();
  const key = randomUsername();
  const entry = await createdUser(store, key);
  const [current, ...others] = await addSessions(store, key, 3);
  const changed = user(key, { passwordHash: "new", updatedAt: NOW + 1 });

  const ok = await store.updateUser(key, entry.versionstamp, changed, others);

  assert.equal(ok, true);
  assert.deepEqual((await store.getUser(key))?.value, changed);
  assert.deepEqual(await store.listSessionIds(key), [current]);
  for (const id of others) assert.equal(await store.getSession(id), null);
});

Deno.test("Store.updateUser() with a stale versionstamp writes nothing", async () => {
  await using store = await openStore();
  const key = randomUsername();
  const stale = await createdUser(store, key);
  const ids = await addSessions(store, key, 3);
  const current = user(key, { updatedAt: NOW + 1 });
  await store.updateUser(key, stale.versionstamp, current, []);

  const ok = await store.updateUser(
    key,
    stale.versionstamp,
    user(key, { passwordHash: "lost" }),
    ids,
  );

  assert.equal(ok, false);
  assert.deepEqual((await store.getUser(key))?.value, current);
  assert.deepEqual((await store.listSessionIds(key)).sort(), [...ids].sort());
});

Deno.test("Store.updateUser() revokes more sessions than one atomic write holds", async () => {
  await using store = await openStore();
  const key = randomUsername();
  const entry = await createdUser(store, key);
  const [kept, ...revoked] = await addSessions(store, key, 1201);

  const ok = await store.updateUser(
    key,
    entry.versionstamp,
    user(key),
    revoked,
  );

  assert.equal(ok, true);
  assert.deepEqual(await store.listSessionIds(key), [kept]);
  for (const id of revoked) assert.equal(await store.getSession(id), null);
});

Deno.test("Store.deleteUser() removes the user and all its sessions", async (t) => {
  await using store = await openStore();

  await t.step("a few sessions, leaving other users alone", async () => {
    const key = randomUsername();
    const other = randomUsername();
    const entry = await createdUser(store, key);
    const ids = await addSessions(store, key, 3);
    await createdUser(store, other);
    const [otherSession] = await addSessions(store, other, 1);

    assert.equal(await store.deleteUser(key, entry.versionstamp), true);

    assert.equal(await store.getUser(key), null);
    assert.deepEqual(await store.listSessionIds(key), []);
    for (const id of ids) assert.equal(await store.getSession(id), null);
    assert.ok(await store.getUser(other));
    assert.deepEqual(await store.listSessionIds(other), [otherSession]);
  });

  await t.step("more than 500 sessions, past the first batch", async () => {
    const key = randomUsername();
    const entry = await createdUser(store, key);
    const ids = await addSessions(store, key, 1201);

    assert.equal(await store.deleteUser(key, entry.versionstamp), true);

    assert.equal(await store.getUser(key), null);
    assert.deepEqual(await store.listSessionIds(key), []);
    for (const id of ids) assert.equal(await store.getSession(id), null);
  });

  await t.step("sessions of the longest username in one batch", async () => {
    const key = "é".repeat(64);
    const entry = await createdUser(store, key);
    await addSessions(store, key, 600);

    assert.equal(await store.deleteUser(key, entry.versionstamp), true);

    assert.deepEqual(await store.listSessionIds(key), []);
  });
});

// A view of `kv` that runs `between` once, right after the first listing
// ends: the moment at which a concurrent login could commit its session.
function pausingAfterList(kv: Deno.Kv, between: () => Promise<void>): Deno.Kv {
  let paused = false;
  return new Proxy(kv, {
    get(target, name) {
      if (name !== "list") {
        const value = Reflect.get(target, name, target);
        return typeof value === "function" ? value.bind(target) : value;
      }
      return async function* (...args: Parameters<Deno.Kv["list"]>) {
        yield* target.list(...args);
        if (paused) return;
        paused = true;
        await between();
      };
    },
  });
}

Deno.test("Store.deleteUser() also removes a session saved while it ran", async () => {
  const kv = await Deno.openKv(":memory:");
  using _closing = { [Symbol.dispose]: () => kv.close() };
  const key = randomUsername();
  const plain = new Store(kv);
  const entry = await createdUser(plain, key);
  const late = session(key);
  const store = new Store(pausingAfterList(kv, async () => {
    const saved = await plain.saveSession(late, {
      sessionVersion: null,
      userVersion: entry.versionstamp,
      expireInMs: HOUR,
    });
    assert.equal(saved, true);
  }));

  assert.equal(await store.deleteUser(key, entry.versionstamp), true);

  assert.equal(await plain.getUser(key), null);
  assert.equal(await plain.getSession(late.id), null);
  assert.deepEqual(await plain.listSessionIds(key), []);
});

Deno.test("Store.deleteUser() with a stale versionstamp removes nothing", async () => {
  await using store = await openStore();
  const key = randomUsername();
  const stale = await createdUser(store, key);
  const ids = await addSessions(store, key, 2);
  const current = user(key, { updatedAt: NOW + 1 });
  await store.updateUser(key, stale.versionstamp, current, []);

  assert.equal(await store.deleteUser(key, stale.versionstamp), false);

  assert.deepEqual((await store.getUser(key))?.value, current);
  assert.deepEqual((await store.listSessionIds(key)).sort(), [...ids].sort());
});

Deno.test("Store.addFailure() counts every one of 20 concurrent failures", async () => {
  await using store = await openStore();
  const key = randomUsername();
  const window = { now: NOW, windowMs: HOUR };

  const counts = await Promise.all(
    Array.from({ length: 20 }, () => store.addFailure("username", key, window)),
  );

  assert.deepEqual(
    counts.map((failures) => failures.count).sort((a, b) => a - b),
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
  assert.deepEqual(await store.getFailures("username", key), {
    count: 20,
    resetAt: NOW + HOUR,
  });
});

Deno.test("Store.addFailure() opens a new window once the old one has ended", async (t) => {
  await using store = await openStore();
  const key = "203.0.113.5";
  await store.addFailure("address", key, { now: NOW, windowMs: HOUR });

  await t.step("counts on in the window's last millisecond", async () => {
    const failures = await store.addFailure("address", key, {
      now: NOW + HOUR - 1,
      windowMs: HOUR,
    });
    assert.deepEqual(failures, { count: 2, resetAt: NOW + HOUR });
  });

  await t.step("starts again from one at the window's end", async () => {
    const failures = await store.addFailure("address", key, {
      now: NOW + HOUR,
      windowMs: HOUR,
    });
    assert.deepEqual(failures, { count: 1, resetAt: NOW + 2 * HOUR });
    assert.deepEqual(await store.getFailures("address", key), failures);
  });
});

Deno.test("Store.clearFailures() forgets one key's failures only", async () => {
  await using store = await openStore();
  const window = { now: NOW, windowMs: HOUR };
  await store.addFailure("username", "alice", window);
  await store.addFailure("address", "alice", window);

  await store.clearFailures("username", "alice");

  assert.equal(await store.getFailures("username", "alice"), null);
  assert.deepEqual(await store.getFailures("address", "alice"), {
    count: 1,
    resetAt: NOW + HOUR,
  });
});

Deno.test("Store.reserveSignup() counts an address's signups apart from its failed logins", async (t) => {
  await using store = await openStore();
  const address = "203.0.113.5";
  const options = { now: NOW, windowMs: HOUR, limit: 2 };

  await t.step("counts up to the limit, then refuses", async () => {
    assert.deepEqual(await store.reserveSignup(address, options), {
      ok: true,
      count: { count: 1, resetAt: NOW + HOUR },
    });
    await store.reserveSignup(address, options);

    assert.deepEqual(await store.reserveSignup(address, options), {
      ok: false,
      count: { count: 2, resetAt: NOW + HOUR },
    });
    assert.equal(await store.getFailures("address", address), null);
  });

  await t.step("takes one back with releaseSignup()", async () => {
    await store.releaseSignup(address, { now: NOW });

    assert.deepEqual(await store.getSignups(address), {
      count: 1,
      resetAt: NOW + HOUR,
    });
  });
});

/** Every call of the store that makes a key of `text`, by name. */
function keyedCalls(
  store: Store,
  text: string,
): [name: string, call: () => Promise<unknown>][] {
  const window = { now: NOW, windowMs: HOUR, limit: 5 };
  const stamp = "00000000000000010000";
  const id = crypto.randomUUID();
  const saved = { userVersion: stamp, expireInMs: HOUR };
  return [
    ["getUser()", () => store.getUser(text)],
    ["createUser()", () => store.createUser(text, user(text))],
    ["updateUser()", () => store.updateUser(text, stamp, user(text), [])],
    ["deleteUser()", () => store.deleteUser(text, stamp)],
    ["saveSession()", () => store.saveSession(session(text), saved)],
    ["getSession()", () => store.getSession(text)],
    ["deleteSession()", () => store.deleteSession(text, id)],
    ["listSessionIds()", () => store.listSessionIds(text)],
    ["getFailures()", () => store.getFailures("username", text)],
    ["addFailure()", () => store.addFailure("username", text, window)],
    ["reserveFailure()", () => store.reserveFailure("address", text, window)],
    ["releaseFailure()", () => store.releaseFailure("address", text, window)],
    ["clearFailures()", () => store.clearFailures("username", text)],
    ["getSignups()", () => store.getSignups(text)],
    ["reserveSignup()", () => store.reserveSignup(text, window)],
    ["releaseSignup()", () => store.releaseSignup(text, window)],
  ];
}

async function assertKeyRefused(
  call: () => Promise<unknown>,
  code: string,
  message: string,
): Promise<void> {
  await assert.rejects(call, (error) => {
    assert.ok(error instanceof StoreKeyError, String(error));
    assert.equal(error.code, code);
    assert.equal(error.message, message);
    return true;
  });
}

Deno.test("Store refuses key text that Deno KV cannot keep as it is, with StoreKeyError", async (t) => {
  await using store = await openStore();
  // Bytes of UTF-8 are counted, not characters: this text has as many
  // characters as the limit has bytes, and is two bytes over it.
  const over = "a".repeat(MAX_KEY_TEXT_BYTES - 1) + "\u20ac";
  const overMessage =
    `Cannot make a store key: its text is over ${MAX_KEY_TEXT_BYTES} bytes of UTF-8`;

  for (const [name, call] of keyedCalls(store, over)) {
    await t.step(`${name}: text over the limit`, async () => {
      await assertKeyRefused(call, "key_too_large", overMessage);
    });
  }

  // KV would keep it as U+FFFD, the key of another text.
  for (const [name, call] of keyedCalls(store, "alice\ud800")) {
    await t.step(`${name}: text with a lone surrogate`, async () => {
      await assertKeyRefused(
        call,
        "key_ill_formed",
        "Cannot make a store key: its text has a lone surrogate",
      );
    });
  }

  await t.step(
    "keeps text of exactly the limit, in its longest key too",
    async () => {
      const key = "a".repeat(MAX_KEY_TEXT_BYTES - 3) + "\u20ac";
      const entry = await createdUser(store, key);
      const ids = await addSessions(store, key, 1);

      assert.deepEqual(await store.listSessionIds(key), ids);
      assert.equal(await store.deleteUser(key, entry.versionstamp), true);
      assert.equal(await store.getUser(key), null);
    },
  );
});

Deno.test("Store.getSetting() answers null for a setting never stored", async () => {
  await using store = await openStore();

  assert.equal(await store.getSetting("signing_secret"), null);
});

Deno.test("Store.initSetting() keeps the first value stored", async (t) => {
  await using store = await openStore();

  await t.step("one after the other", async () => {
    const first = Uint8Array.of(1, 2, 3);

    assert.deepEqual(await store.initSetting("secret", first), first);
    assert.deepEqual(
      await store.initSetting("secret", Uint8Array.of(9)),
      first,
    );
    assert.deepEqual(await store.getSetting("secret"), first);
  });

  await t.step("five at once agree on one value", async () => {
    const values = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => store.initSetting("racing", n)),
    );

    const stored = await store.getSetting<number>("racing");
    assert.ok(stored !== null && values.every((value) => value === stored));
  });
});
