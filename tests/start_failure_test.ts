import assert from "node:assert/strict";
import { ConfigError } from "../src/config.ts";
import { startFailure } from "../src/start_failure.ts";

// Deno's own wording, which differs between `deno run` and an executable.
const RUN_DENIAL =
  'Requires write access to "./elsewhere", run again with the --allow-write flag';
const COMPILED_DENIAL =
  'Requires write access to "./elsewhere", specify the required permissions during compilation using `deno compile --allow-write`';

Deno.test("startFailure() tells deno run to grant a missing permission", () => {
  const error = new Deno.errors.NotCapable(RUN_DENIAL);

  assert.equal(
    startFailure(error, { standalone: false }),
    `Cannot start: a permission is missing: ${RUN_DENIAL}; grant it in deno.json's "permissions" or with that flag`,
  );
});

Deno.test("startFailure() tells an executable's user that its permissions are built in", () => {
  const error = new Deno.errors.NotCapable(COMPILED_DENIAL);

  const message = startFailure(error, { standalone: true });

  assert.equal(
    message,
    `Cannot start: a permission is missing: ${COMPILED_DENIAL}; the executable's permissions were fixed when it was built: keep PORT, HOSTNAME and KV_PATH within them, or add that flag to the "compile" task in deno.json and build it again`,
  );
  assert.equal(message.includes('"permissions"'), false);
});

Deno.test("startFailure() says what to change for other failures, either way", async (t) => {
  const cases: [string, unknown, string][] = [
    [
      "a bad variable",
      new ConfigError("PORT", "must be a port number"),
      "Cannot start: PORT must be a port number",
    ],
    [
      "an address in use",
      new Deno.errors.AddrInUse("Address in use"),
      "Cannot listen: the address is in use; set PORT or HOSTNAME",
    ],
    [
      "an address not of this machine",
      new Deno.errors.AddrNotAvailable("Cannot assign"),
      "Cannot listen: HOSTNAME is not an address of this machine",
    ],
    [
      "anything else",
      new Error("Store is locked"),
      "Cannot start: Store is locked",
    ],
    ["a thrown string", "gone", "Cannot start: gone"],
  ];
  for (const [name, error, expected] of cases) {
    await t.step(name, () => {
      assert.equal(startFailure(error, { standalone: false }), expected);
      assert.equal(startFailure(error, { standalone: true }), expected);
    });
  }
});
