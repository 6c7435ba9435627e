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

Deno.test("usernameProblem() refuses white space, control and invisible characters", async (t) => {
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
    ["a Hangul filler alone", "\u3164"],
    ["a Hangul filler inside", "ali\u3164ce"],
    ["a Hangul choseong filler", "\u115f"],
    ["a Hangul jungseong filler", "alice\u1160"],
    ["a half-width Hangul filler", "\uffa0"],
    ["a braille pattern blank", "\u2800"],
    ["a musical null notehead", "alice\u{1d159}"],
    ["a zero-width joiner", "ali\u200dce"],
    ["a zero-width non-joiner", "ali\u200cce"],
    ["a word joiner", "alice\u2060"],
    ["a soft hyphen", "ali\u00adce"],
    ["a combining grapheme joiner", "alice\u034f"],
    ["a variation selector", "alice\ufe0f"],
    ["a supplementary variation selector", "alice\u{e0100}"],
    ["a tag character", "alice\u{e0041}"],
    ["a byte order mark", "\ufeffalice"],
    ["the noncharacter U+FFFE", "alice\ufffe"],
    ["the noncharacter U+FDD0", "\ufdd0"],
    ["a supplementary noncharacter", "alice\u{10ffff}"],
  ];
  for (const [name, username] of cases) {
    await t.step(name, () => {
      assert.equal(
        usernameProblem(username),
        "must not contain white space, control or invisible characters",
      );
    });
  }
});

Deno.test("usernameProblem() refuses ill-formed UTF-16", async (t) => {
  const cases: [string, string][] = [
    ["a lone high surrogate at the end", "a\ud800"],
    ["a lone low surrogate at the end", "a\udfff"],
    ["a lone high surrogate inside", "al\udbffice"],
    ["a low surrogate before a high one", "a\udc00\ud800"],
    ["only a surrogate", "\ud83e"],
  ];
  for (const [name, username] of cases) {
    await t.step(name, () => {
      assert.equal(
        usernameProblem(username),
        "must be well-formed Unicode (no lone surrogates)",
      );
    });
  }

  await t.step("accepts a proper surrogate pair and U+FFFD", () => {
    assert.equal(usernameProblem("a\ud83e\udd95"), undefined);
    assert.equal(usernameProblem("a\ufffd"), undefined);
  });
});

Deno.test("usernameProblem() refuses unassigned and private-use code points", async (t) => {
  const cases: [string, string][] = [
    ["an unassigned code point alone", "\u0378"],
    ["an unassigned code point inside", "ali\u0378ce"],
    ["an unassigned supplementary code point", "alice\u{2fffd}"],
    ["a private-use character alone", "\ue000"],
    ["a private-use character inside", "ali\uf8ffce"],
    ["a supplementary private-use character", "alice\u{f0000}"],
    ["a character of private-use plane 16", "alice\u{10fffd}"],
  ];
  for (const [name, username] of cases) {
    await t.step(name, () => {
      assert.equal(
        usernameProblem(username),
        "must not contain unassigned or private-use characters",
      );
    });
  }
});

Deno.test("usernameProblem() refuses a name that starts with a combining mark", async (t) => {
  const cases: [string, string][] = [
    ["a lone combining acute accent", "\u0301"],
    ["a combining acute accent before letters", "\u0301alice"],
    ["a combining mark NFKC leaves a mark", "\u0340alice"],
    ["a spacing combining mark", "\u0903alice"],
    ["an enclosing mark", "\u20dd"],
  ];
  for (const [name, username] of cases) {
    await t.step(name, () => {
      assert.equal(
        usernameProblem(username),
        "must not start with a combining mark",
      );
    });
  }

  await t.step("accepts combining marks after a letter", () => {
    for (const name of ["Zoe\u0301", "a\u0301\u0323", "क\u0903", "a\u20dd"]) {
      assert.equal(usernameProblem(name), undefined, name);
    }
  });
});
