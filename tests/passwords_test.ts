import assert from "node:assert/strict";
import {
  createPasswordHasher,
  hashCost,
  MAX_PASSWORD_BYTES,
  normalizePassword,
  passwordByteLength,
} from "../src/passwords.ts";

const hasher = createPasswordHasher({ cost: 4 });

Deno.test("createPasswordHasher() makes $2b$ hashes at the configured cost", async () => {
  const hash = await hasher.hash("correct horse battery");

  assert.match(hash, /^\$2b\$04\$[./A-Za-z0-9]{53}$/);
  assert.equal(hashCost(hash), 4);
});

Deno.test("createPasswordHasher() salts every hash", async () => {
  const first = await hasher.hash("correct horse battery");
  const second = await hasher.hash("correct horse battery");

  assert.notEqual(first, second);
  assert.equal(await hasher.verify("correct horse battery", second), true);
});

Deno.test("createPasswordHasher() verifies only the password that was hashed", async (t) => {
  const hash = await hasher.hash("correct horse battery");

  await t.step("the same password", async () => {
    assert.equal(await hasher.verify("correct horse battery", hash), true);
  });

  for (
    const wrong of [
      "correct horse batter",
      "Correct horse battery",
      "correct horse battery ",
      "",
    ]
  ) {
    await t.step(`not ${JSON.stringify(wrong)}`, async () => {
      assert.equal(await hasher.verify(wrong, hash), false);
    });
  }
});

Deno.test("createPasswordHasher() matches a password however its characters are composed", async () => {
  const composed = "caf\u00e9 au lait";
  const decomposed = "cafe\u0301 au lait";

  const hash = await hasher.hash(composed);

  assert.equal(await hasher.verify(decomposed, hash), true);
  assert.equal(await hasher.verify("ｃａｆé au lait", hash), true);
});

Deno.test("normalizePassword() applies NFKC", () => {
  assert.equal(normalizePassword("cafe\u0301"), "caf\u00e9");
  assert.equal(normalizePassword("ﬁ①"), "fi1");
});

Deno.test("passwordByteLength() counts UTF-8 bytes after NFKC", () => {
  assert.equal(MAX_PASSWORD_BYTES, 72);
  assert.equal(passwordByteLength("a".repeat(72)), 72);
  assert.equal(passwordByteLength("é".repeat(36)), 72);
  assert.equal(passwordByteLength("e\u0301"), 2);
  assert.equal(passwordByteLength("🦕"), 4);
  assert.equal(passwordByteLength("ﬁ"), 2);
});

Deno.test("hashCost() throws for text that is not a bcrypt hash", async (t) => {
  const cases = ["plain text", "", "$2b$xx$", "$2b$04$truncated", "$1$04$md5"];
  for (const text of cases) {
    await t.step(JSON.stringify(text), () => {
      assert.throws(() => hashCost(text), {
        name: "Error",
        message: "Cannot read the cost: not a bcrypt hash",
      });
    });
  }
});

Deno.test("hashCost() reads the cost of $2a$, $2b$ and $2y$ hashes", async () => {
  const hash = await createPasswordHasher({ cost: 5 }).hash("x");

  for (const prefix of ["$2a$", "$2b$", "$2y$"]) {
    assert.equal(hashCost(prefix + hash.slice(4)), 5, prefix);
  }
});
