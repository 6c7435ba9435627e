import assert from "node:assert/strict";
import { assertProblem, assertUnauthorized, JSON_TYPE } from "./_assertions.ts";
import { bearer, openTestService, signUpAndLogIn } from "./_helpers.ts";

const SECRET = "Top Secret data only authorized users can access this info";

Deno.test("GET and POST /secret answer holders of an access token only", async (t) => {
  await using service = await openTestService();

  for (const method of ["GET", "POST"]) {
    await t.step(
      `${method} answers 200 with the secret for an access token`,
      async () => {
        const { tokens } = await signUpAndLogIn(service);
        const response = await service.fetch(
          "/secret",
          bearer(tokens.access_token, method),
        );
        assert.equal(response.status, 200);
        assert.equal(response.headers.get("content-type"), JSON_TYPE);
        assert.equal(await response.json(), SECRET);
      },
    );

    await t.step(
      `${method} answers 401 Not authenticated without a token`,
      async () => {
        const response = await service.fetch("/secret", { method });
        await assertUnauthorized(response, "Not authenticated", {
          tokenSent: false,
        });
      },
    );

    await t.step(
      `${method} answers 401 Invalid token for a refresh token or junk`,
      async () => {
        const { tokens } = await signUpAndLogIn(service);
        for (const token of [tokens.refresh_token, "abc.def.ghi"]) {
          const response = await service.fetch(
            "/secret",
            bearer(token, method),
          );
          await assertUnauthorized(response, "Invalid token", {
            tokenSent: true,
          });
        }
      },
    );
  }

  await t.step(
    "answers 401 Token expired once the access token has expired",
    async () => {
      const { tokens } = await signUpAndLogIn(service);
      service.clock.advance(service.config.accessTokenTtlMs);
      const response = await service.fetch(
        "/secret",
        bearer(tokens.access_token),
      );
      await assertUnauthorized(response, "Token expired", { tokenSent: true });
    },
  );

  await t.step("answers 405 with Allow for PUT", async () => {
    const { tokens } = await signUpAndLogIn(service);
    const response = await service.fetch(
      "/secret",
      bearer(tokens.access_token, "PUT"),
    );
    const allow = response.headers.get("allow") ?? "";
    await assertProblem(response, 405, "Method Not Allowed");
    assert.deepEqual(allow.split(/,\s*/).sort(), [
      "GET",
      "HEAD",
      "OPTIONS",
      "POST",
    ]);
  });
});

Deno.test("GET /notsecret answers anyone", async (t) => {
  await using service = await openTestService();

  await t.step(
    "answers 200 with the public string without a token",
    async () => {
      const response = await service.fetch("/notsecret");
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), JSON_TYPE);
      assert.equal(await response.json(), "Not secret data");
    },
  );
});

Deno.test("GET /healthz tells whether the store answers", async (t) => {
  await t.step(
    "answers 200 with status ok while the store is open",
    async () => {
      await using service = await openTestService();
      const response = await service.fetch("/healthz");
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), JSON_TYPE);
      assert.deepEqual(await response.json(), { status: "ok" });
    },
  );

  await t.step("answers 503 once the store is closed", async () => {
    // Closed here by hand: disposing of the service would close it twice.
    const service = await openTestService();
    service.kv.close();
    const response = await service.fetch("/healthz");
    await assertProblem(response, 503, "Store unavailable");
  });
});

Deno.test("Unknown paths answer 404 problem details", async (t) => {
  await using service = await openTestService();

  await t.step("answers 404 for a path no route has", async () => {
    const response = await service.fetch("/nowhere");
    await assertProblem(response, 404, "Not Found");
  });

  await t.step(
    "answers 404 for a known path with a trailing slash",
    async () => {
      const response = await service.fetch("/secret/");
      await assertProblem(response, 404, "Not Found");
    },
  );

  await t.step(
    "answers 404 for a file the docs page does not have",
    async () => {
      const response = await service.fetch("/docs/missing.js");
      await assertProblem(response, 404, "Not Found");
    },
  );
});
