import assert from "node:assert/strict";
import {
  createHashPool,
  HashQueueFullError,
  HashWorkerError,
} from "../src/hash_pool.ts";
import { createLogger } from "../src/log.ts";
import { createPasswordHasher } from "../src/passwords.ts";
import { assertOAuthError, assertProblem } from "./_assertions.ts";
import {
  json,
  logIn,
  openTestService,
  PASSWORD,
  randomUsername,
  signUp,
  signUpAndLogIn,
} from "./_helpers.ts";

const COST = 4;

// Answers like the real worker, but crashes on CRASH and never answers
// HOLD; the passwords are the ones tests/_faulty_worker.ts looks for.
const FAULTY_WORKER = new URL("./_faulty_worker.ts", import.meta.url);
const CRASH = "crash the worker";
const HOLD = "hold the worker";

// Throws while it loads, every time.
const BROKEN_WORKER = new URL("./_broken_worker.ts", import.meta.url);

const bcrypt = createPasswordHasher({ cost: COST });

type ErrorClass = typeof HashQueueFullError | typeof HashWorkerError;

/** Asserts that `promise` rejects with `type`, its code and a message. */
async function assertRejects(
  promise: Promise<unknown>,
  type: ErrorClass,
  message: string | RegExp,
): Promise<void> {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof type, `Expected ${type.name}, got ${error}`);
    assert.equal(
      error.code,
      type === HashQueueFullError ? "ERR_HASH_QUEUE_FULL" : "ERR_HASH_WORKER",
    );
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

/** Asserts that `promise` rejects because the pool has closed. */
async function assertClosed(promise: Promise<unknown>): Promise<void> {
  await assertRejects(promise, HashWorkerError, "Hashing pool is closed");
}

/** A pool of one worker, the faulty one unless another is named. */
function singleWorkerPool(queueLimit: number, workerUrl = FAULTY_WORKER) {
  return createHashPool({ size: 1, cost: COST, queueLimit, workerUrl });
}

/** What a promise settled with, caught at once so nothing goes unhandled. */
function outcome(promise: Promise<unknown>): Promise<unknown> {
  return promise.then((value) => ({ value }), (error) => error);
}

Deno.test("createHashPool() hashes and verifies as bcrypt on the calling thread does", async (t) => {
  using pool = createHashPool({ size: 2, cost: COST, queueLimit: 8 });

  await t.step(
    "a hash made in the pool verifies on the calling thread",
    async () => {
      const hash = await pool.hash(PASSWORD);
      assert.match(hash, /^\$2b\$04\$[./A-Za-z0-9]{53}$/);
      assert.equal(await bcrypt.verify(PASSWORD, hash), true);
    },
  );

  await t.step(
    "a hash made on the calling thread verifies in the pool",
    async () => {
      const hash = await bcrypt.hash(PASSWORD);
      assert.equal(await pool.verify(PASSWORD, hash), true);
    },
  );

  await t.step("a hash of another cost verifies in the pool", async () => {
    const hash = await createPasswordHasher({ cost: 5 }).hash(PASSWORD);
    assert.equal(await pool.verify(PASSWORD, hash), true);
  });

  await t.step("an NFKC-equivalent spelling matches both ways", async () => {
    const composed = "caf\u00e9 \ufb01ne password";
    const decomposed = "cafe\u0301 fine password";
    assert.equal(
      await bcrypt.verify(decomposed, await pool.hash(composed)),
      true,
    );
    assert.equal(
      await pool.verify(composed, await bcrypt.hash(decomposed)),
      true,
    );
  });

  await t.step("a wrong password does not verify, either way", async () => {
    const fromPool = await pool.hash(PASSWORD);
    const fromThread = await bcrypt.hash(PASSWORD);
    assert.equal(await pool.verify("wrong horse battery", fromPool), false);
    assert.equal(await pool.verify("wrong horse battery", fromThread), false);
    assert.equal(await bcrypt.verify("wrong horse battery", fromPool), false);
  });

  await t.step("many requests at once all get their own answer", async () => {
    const passwords = Array.from({ length: 6 }, (_, i) => `${PASSWORD} ${i}`);
    const hashes = await Promise.all(passwords.map((p) => pool.hash(p)));
    const checks = await Promise.all(
      hashes.map((hash, i) => bcrypt.verify(passwords[i] ?? "", hash)),
    );
    assert.deepEqual(checks, passwords.map(() => true));
  });
});

Deno.test("createHashPool() refuses a request beyond its queue limit with HashQueueFullError", async (t) => {
  using pool = createHashPool({ size: 1, cost: COST, queueLimit: 1 });

  await t.step(
    "refuses a third request while one runs and one waits",
    async () => {
      // Requests are handed out synchronously and a worker can only answer
      // on a later turn, so the first is running and the second waiting.
      const running = pool.hash("first password");
      const waiting = pool.hash("second password");
      assert.equal(pool.waiting, 1);

      await assertRejects(
        pool.hash("third password"),
        HashQueueFullError,
        "Cannot queue password hashing: 1 requests already wait",
      );
      assert.equal(pool.waiting, 1);

      const [first, second] = await Promise.all([running, waiting]);
      assert.equal(await bcrypt.verify("first password", first), true);
      assert.equal(await bcrypt.verify("second password", second), true);
    },
  );

  await t.step("takes requests again once the queue has drained", async () => {
    assert.equal(pool.waiting, 0);
    const hash = await pool.hash(PASSWORD);
    assert.equal(await bcrypt.verify(PASSWORD, hash), true);
  });
});

Deno.test("createHashPool() replaces a crashed worker and fails only the request it held", async (t) => {
  using pool = singleWorkerPool(4);

  await t.step(
    "the request the worker crashed on rejects with HashWorkerError",
    async () => {
      await assertRejects(
        pool.hash(CRASH),
        HashWorkerError,
        /^Hashing worker crashed: .*Worker crashed on purpose$/,
      );
    },
  );

  await t.step(
    "a request waiting behind the crash is answered by the replacement",
    async () => {
      const crashed = pool.verify(CRASH, await bcrypt.hash(CRASH));
      const waiting = pool.hash(PASSWORD);
      await assertRejects(
        crashed,
        HashWorkerError,
        /^Hashing worker crashed: .*Worker crashed on purpose$/,
      );
      assert.equal(await bcrypt.verify(PASSWORD, await waiting), true);
    },
  );

  await t.step(
    "later requests succeed, however many crashes came before",
    async () => {
      for (let i = 0; i < 8; i++) {
        await assertRejects(pool.hash(CRASH), HashWorkerError, /crashed/);
        const hash = await pool.hash(PASSWORD);
        assert.equal(await pool.verify(PASSWORD, hash), true);
      }
    },
  );
});

Deno.test("createHashPool() gives up on a worker module that never loads", async (t) => {
  using pool = singleWorkerPool(16, BROKEN_WORKER);
  const pending = Array.from(
    { length: 12 },
    (_, i) => outcome(pool.hash(`${PASSWORD} ${i}`)),
  );
  const results = await Promise.all(pending);

  await t.step("every pending request rejects with HashWorkerError", () => {
    for (const result of results) {
      assert.ok(result instanceof HashWorkerError, String(result));
      assert.equal(result.code, "ERR_HASH_WORKER");
    }
  });

  await t.step(
    "a few requests fail with a crash, then the pool stops respawning",
    () => {
      const messages = results.map((result) => (result as Error).message);
      const crashed = messages.filter((m) =>
        m.startsWith("Hashing worker crashed:")
      );
      const gaveUp = messages.filter((m) =>
        m.startsWith("Hashing workers keep crashing:")
      );
      // A pool of one gives up within four crashes in a row, long before
      // the twelfth request.
      assert.ok(
        crashed.length >= 1 && crashed.length <= 4,
        messages.join("\n"),
      );
      assert.equal(crashed.length + gaveUp.length, results.length);
      assert.match(
        messages[0] ?? "",
        /^Hashing worker crashed: .*Worker module fails to load on purpose$/,
      );
      assert.match(
        messages.at(-1) ?? "",
        /^Hashing workers keep crashing: .*Worker module fails to load on purpose$/,
      );
    },
  );

  await t.step("a request after giving up is refused at once", async () => {
    await assertClosed(pool.hash(PASSWORD));
  });
});

Deno.test("HashPool.close() rejects the requests it has not answered", async (t) => {
  using pool = singleWorkerPool(4);
  const running = pool.hash(HOLD);
  const waiting = [pool.hash(PASSWORD), pool.verify(PASSWORD, "$2b$04$x")];
  assert.equal(pool.waiting, 2);
  pool.close();

  await t.step("the running request rejects with HashWorkerError", async () => {
    await assertClosed(running);
  });

  await t.step("the waiting requests reject with HashWorkerError", async () => {
    for (const request of waiting) {
      await assertClosed(request);
    }
    assert.equal(pool.waiting, 0);
  });

  await t.step("a request made after closing is refused", async () => {
    await assertClosed(pool.verify(PASSWORD, "$2b$04$x"));
  });
});

const BUSY = "Too many passwords being hashed, try again shortly";

Deno.test("Every route that hashes a password answers 503 while the hashing queue is full", async (t) => {
  const lines: string[] = [];
  const logger = createLogger({ write: (line) => lines.push(line) });
  using pool = singleWorkerPool(1);
  await using service = await openTestService({ hasher: pool, logger });
  const { username, tokens } = await signUpAndLogIn(service);
  const withAccess = { token: tokens.access_token };
  // One request the worker never answers and one waiting behind it fill
  // the queue until the pool is closed.
  const held = [outcome(pool.hash(HOLD)), outcome(pool.hash(HOLD))];
  assert.equal(pool.waiting, 1);
  const before = lines.length;

  await t.step("POST /signup answers 503 with Retry-After", async () => {
    const response = await signUp(service, randomUsername());
    await assertProblem(response, 503, BUSY);
    assert.equal(response.headers.get("retry-after"), "1");
  });

  await t.step("POST /login answers 503 with Retry-After", async () => {
    const response = await logIn(service, username, PASSWORD);
    await assertProblem(response, 503, BUSY);
    assert.equal(response.headers.get("retry-after"), "1");
  });

  await t.step(
    "POST /token answers temporarily_unavailable with 503 and Retry-After",
    async () => {
      const response = await service.fetch("/token", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "password",
          username,
          password: PASSWORD,
        }),
      });
      await assertOAuthError(response, "temporarily_unavailable", BUSY, 503);
      assert.equal(response.headers.get("retry-after"), "1");
    },
  );

  await t.step("POST /password answers 503 with Retry-After", async () => {
    const body = { current_password: PASSWORD, new_password: "another one!" };
    const response = await service.fetch(
      "/password",
      json(body, withAccess),
    );
    await assertProblem(response, 503, BUSY);
    assert.equal(response.headers.get("retry-after"), "1");
  });

  await t.step("DELETE /me answers 503 with Retry-After", async () => {
    const response = await service.fetch(
      "/me",
      json({ password: PASSWORD }, { ...withAccess, method: "DELETE" }),
    );
    await assertProblem(response, 503, BUSY);
    assert.equal(response.headers.get("retry-after"), "1");
  });

  await t.step("logs each only as its request line, without a stack", () => {
    const logged = lines.slice(before).map((line) => JSON.parse(line));
    assert.deepEqual(
      logged.map(({ level, msg, status }) => ({ level, msg, status })),
      Array(5).fill({ level: "info", msg: "request", status: 503 }),
    );
  });

  pool.close();
  for (const result of await Promise.all(held)) {
    assert.ok(result instanceof HashWorkerError, String(result));
    assert.equal(result.message, "Hashing pool is closed");
  }
});
