import assert from "node:assert/strict";
import {
  assertTokenPair,
  assertUnauthorized,
  JSON_TYPE,
} from "./_assertions.ts";
import { FakeClock, openTestService, type TokenPairBody } from "./_helpers.ts";
import type { Handler } from "../src/app.ts";

const SECRET = "Top Secret data only authorized users can access this info";

/** A real server on a free port of 127.0.0.1 and a client for it. */
interface RunningServer extends AsyncDisposable {
  port: number;
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

function serve(handler: Handler): RunningServer {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    handler,
  );
  const origin = `http://127.0.0.1:${server.addr.port}`;
  return {
    port: server.addr.port,
    fetch: (path, init) => fetch(new URL(path, origin), init),
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

function postJson(body: unknown, token?: string): RequestInit {
  const headers: Record<string, string> = {
    "content-type": "application/json",
  };
  if (token) headers.authorization = `Bearer ${token}`;
  return { method: "POST", headers, body: JSON.stringify(body) };
}

function withToken(token: string, method = "GET"): RequestInit {
  return { method, headers: { authorization: `Bearer ${token}` } };
}

async function logIn(
  server: RunningServer,
  username: string,
  password: string,
): Promise<TokenPairBody> {
  const response = await server.fetch(
    "/login",
    postJson({ username, password }),
  );
  return await assertTokenPair(response);
}

Deno.test("The tutorial's walk-through works over real HTTP", async (t) => {
  const clock = new FakeClock();
  await using service = await openTestService({ clock });
  await using server = serve(service.handler);
  const username = "flyingsponge";
  const password = "SpongePassword";
  let tokens: TokenPairBody | undefined;

  await t.step("POST /signup answers 201 for flyingsponge", async () => {
    const response = await server.fetch(
      "/signup",
      postJson({ username, password }),
    );
    assert.equal(response.status, 201);
    assert.equal(response.headers.get("content-type"), JSON_TYPE);
    assert.deepEqual(await response.json(), {
      username,
      created_at: new Date(clock.now()).toISOString(),
    });
  });

  await t.step("POST /login answers a token pair", async () => {
    tokens = await logIn(server, username, password);
  });

  await t.step(
    "POST /secret answers the secret for the access token",
    async () => {
      assert.ok(tokens);
      const response = await server.fetch(
        "/secret",
        withToken(tokens.access_token, "POST"),
      );
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), JSON_TYPE);
      assert.equal(await response.json(), SECRET);
    },
  );

  await t.step("GET /notsecret answers without a token", async () => {
    const response = await server.fetch("/notsecret");
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), JSON_TYPE);
    assert.equal(await response.json(), "Not secret data");
  });

  await t.step(
    "POST /secret answers 401 Token expired once the access token expires",
    async () => {
      assert.ok(tokens);
      clock.advance(service.config.accessTokenTtlMs + 1_000);
      const response = await server.fetch(
        "/secret",
        withToken(tokens.access_token, "POST"),
      );
      await assertUnauthorized(response, "Token expired", { tokenSent: true });
    },
  );

  await t.step(
    "GET /refresh_token answers a new pair whose access token works",
    async () => {
      assert.ok(tokens);
      const response = await server.fetch(
        "/refresh_token",
        withToken(tokens.refresh_token),
      );
      const pair = await assertTokenPair(response, {
        refreshExpiresIn: 36000,
      });
      const secret = await server.fetch(
        "/secret",
        withToken(pair.access_token, "POST"),
      );
      assert.equal(secret.status, 200);
      assert.equal(secret.headers.get("content-type"), JSON_TYPE);
      assert.equal(await secret.json(), SECRET);
    },
  );
});

Deno.test("A restart on the same KV file keeps accounts, sessions and the generated secret", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "auth_e2e_" });
  const path = `${dir}/auth.kv`;
  const clock = new FakeClock();
  const username = "flyingsponge";
  const password = "SpongePassword";
  // Without APP_SECRET_STRING the secret is generated and kept in the KV.
  const config = { secret: undefined, kvPath: path };
  let tokens: TokenPairBody | undefined;

  try {
    await t.step("before the restart: signs up and logs in", async () => {
      const kv = await Deno.openKv(path);
      await using service = await openTestService({ kv, clock, config });
      await using server = serve(service.handler);
      assert.equal(service.secretSource, "generated");
      const signup = await server.fetch(
        "/signup",
        postJson({ username, password }),
      );
      assert.equal(signup.status, 201);
      await signup.body?.cancel();
      tokens = await logIn(server, username, password);
    });

    await t.step(
      "after the restart: the user logs in and old tokens work",
      async () => {
        assert.ok(tokens);
        const kv = await Deno.openKv(path);
        await using service = await openTestService({ kv, clock, config });
        await using server = serve(service.handler);
        assert.equal(service.secretSource, "stored");
        await logIn(server, username, password);
        const secret = await server.fetch(
          "/secret",
          withToken(tokens.access_token),
        );
        assert.equal(secret.status, 200);
        assert.equal(secret.headers.get("content-type"), JSON_TYPE);
        assert.equal(await secret.json(), SECRET);
        const refreshed = await server.fetch(
          "/refresh_token",
          withToken(tokens.refresh_token),
        );
        await assertTokenPair(refreshed);
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Writes `text` to a new connection and reads until the server closes it. */
async function exchange(port: number, text: string): Promise<string> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(text));
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(64 * 1024);
  let answer = "";
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) return answer + decoder.decode();
    answer += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
}

Deno.test("HEAD over real HTTP sends the Content-Length of GET and no body", async (t) => {
  await using service = await openTestService();
  await using server = serve(service.handler);

  for (
    const path of [
      "/notsecret",
      "/healthz",
      "/openapi.json",
      "/docs",
      "/docs/init.js",
      "/docs/swagger-ui.css",
    ]
  ) {
    await t.step(`HEAD ${path}`, async () => {
      const got = await server.fetch(path);
      const length = (await got.bytes()).length;
      const head = await server.fetch(path, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("content-length"), String(length));
      assert.equal(
        head.headers.get("content-type"),
        got.headers.get("content-type"),
      );
      // RFC 9110, section 9.3.2: the answer ends with its header section,
      // so the next answer on the connection follows at once.
      const text = await exchange(
        server.port,
        `HEAD ${path} HTTP/1.1\r\nhost: x\r\n\r\n` +
          `OPTIONS ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`,
      );
      assert.match(
        text,
        /^HTTP\/1\.1 200 OK\r\n(?:[^\r]+\r\n)+\r\nHTTP\/1\.1 204 /,
      );
      assert.ok(text.endsWith("\r\n\r\n"), "the OPTIONS answer has no body");
    });
  }
});
