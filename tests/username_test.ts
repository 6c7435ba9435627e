import assert from "node:assert/strict";
import {
  MAX_USERNAME_LENGTH,
  normalizeUsername,
  usernameKey,
  usernameProblem,
} from "../src/username.ts";

Deno.test("normalizeUsername() folds compatibility characters with NFKC", () => {
  assert.equal(normalizeUsername("Ａｌｉｃｅ"), "Alice");
  assert.equal(normalizeUsername("ﬁnn"), "finn");
  assert.equal(normalizeUsername("Zoe\u0301"), "Zoé");
  assert.equal(normalizeUsername("Alice"), "Alice");
});

Deno.test("usernameKey() makes names that differ only in case or width one key", () => {
  const key = usernameKey("alice");

  for (const name of ["Alice", "ALICE", "aLiCe", "ＡＬＩＣＥ", "ａｌｉｃｅ"]) {
    assert.equal(usernameKey(name), key, name);
  }
  assert.equal(usernameKey("Zoe\u0301"), usernameKey("ZOÉ"));
  assert.notEqual(usernameKey("alice"), usernameKey("alice2"));
});

Deno.test("usernameProblem() accepts 1 to 64 characters after NFKC", async (t) => {
  await t.step("one character", () => {
    assert.equal(usernameProblem("a"), undefined);
  });

  await t.step("64 characters", () => {
    assert.equal(usernameProblem("a".repeat(MAX_USERNAME_LENGTH)), undefined);
  });

  await t.step("64 characters outside the BMP count as 64", () => {
    assert.equal(usernameProblem("🦕".repeat(64)), undefined);
  });

  await t.step("punctuation and letters of any script", () => {
    for (const name of ["o'brien", "a.b-c_d@e", "Ωμέγα", "名前"]) {
      assert.equal(usernameProblem(name), undefined, name);
    }
  });
});

Deno.test("usernameProblem() refuses an empty or too long name", async (t) => {
  await t.step("empty", () => {
    assert.equal(usernameProblem(""), "must not be empty");
  });

  await t.step("65 characters", () => {
    assert.equal(
      usernameProblem("a".repeat(65)),
      "must be at most 64 characters",
    );
  });

  await t.step("64 ligatures that NFKC expands to 128 characters", () => {
    assert.equal(
      usernameProblem("ﬁ".repeat(64)),
      "must be at most 64 characters",
    );
  });
});

Deno.test("usernameProblem() refuses white space and control characters", async (t) => {
  const cases: [string, string][] = [
    ["a space", "alice smith"],
    ["a leading space", " alice"],
    ["a tab", "alice\t"],
    ["a new line", "alice\nadmin"],
    ["a NUL", "alice\0"],
    ["DEL", "alice\x7f"],
    ["a no-break space", "alice\u00a0smith"],
    ["an ideographic space", "alice\u3000smith"],
    ["a zero-width space", "ali\u200bce"],
    ["a right-to-left override", "\u202eecila"],
    ["a line separator", "alice\u2028"],
    ["a paragraph separator", "alice\u2029"],
  ];
  for (const [name, username] of cases) {
    await t.step(name, () => {
      assert.equal(
        usernameProblem(username),
        "must not contain white space or control characters",
      );
    });
  }
});
