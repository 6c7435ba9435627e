import assert from "node:assert/strict";
import {
  LOGIN_BODY,
  newPassword,
  passwordChangeBody,
  signupBody,
  USERNAME,
} from "../src/schemas.ts";

const ILL_FORMED = "must be well-formed Unicode (no lone surrogates)";

function messages(result: { error?: { issues: { message: string }[] } }) {
  return result.error?.issues.map((issue) => issue.message) ?? [];
}

Deno.test("newPassword() refuses a password with a lone surrogate", async (t) => {
  const schema = newPassword(8);
  const cases: [string, string][] = [
    ["a lone high surrogate at the end", "password\ud800"],
    ["a lone low surrogate at the start", "\udfffpassword"],
    ["a lone surrogate in a short password", "pw\ud800"],
    ["a lone surrogate in a long password", `${"p".repeat(80)}\ud800`],
  ];
  for (const [name, password] of cases) {
    await t.step(name, () => {
      assert.deepEqual(messages(schema.safeParse(password)), [ILL_FORMED]);
    });
  }

  await t.step("accepts a surrogate pair and U+FFFD", () => {
    assert.equal(schema.safeParse("password\ud83e\udd95").success, true);
    assert.equal(schema.safeParse("password\ufffd").success, true);
  });
});

Deno.test("signupBody() and passwordChangeBody() refuse ill-formed Unicode in each field", () => {
  const signup = signupBody(8).safeParse({
    username: "alice\ud800",
    password: "password\udc00",
  });
  assert.deepEqual(
    signup.error?.issues.map(({ path, message }) => [path, message]),
    [[["username"], ILL_FORMED], [["password"], ILL_FORMED]],
  );

  const change = passwordChangeBody(8).safeParse({
    current_password: "old password",
    new_password: "new password\ud800",
  });
  assert.deepEqual(
    change.error?.issues.map(({ path, message }) => [path, message]),
    [[["new_password"], ILL_FORMED]],
  );
});

Deno.test("USERNAME refuses invisible names with the username rule's message", () => {
  assert.deepEqual(messages(USERNAME.safeParse("\u3164")), [
    "must not contain white space, control or invisible characters",
  ]);
  assert.equal(USERNAME.safeParse("alice").success, true);
});

Deno.test("LOGIN_BODY lets ill-formed text through, so login fails as bad credentials", () => {
  // Every failed login gets the same answer; a 422 here would single out
  // names and passwords that cannot exist.
  const body = { username: "alice\ud800", password: "password\ud800" };

  assert.deepEqual(LOGIN_BODY.parse(body), body);
});
