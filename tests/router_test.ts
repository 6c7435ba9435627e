import assert from "node:assert/strict";
import { HttpError } from "../src/http_error.ts";
import {
  createRouter,
  type Params,
  requestPath,
  type Route,
} from "../src/router.ts";

type Seen = { name: string; params: Params };

function routeTo(name: string, method: string, path: string): Route<Seen[]> {
  return {
    method,
    path,
    handler: (_request, seen, params) => {
      seen.push({ name, params });
      return new Response(name, { headers: { "x-route": name } });
    },
  };
}

function request(path: string, method = "GET"): Request {
  return new Request(new URL(path, "http://localhost"), { method });
}

// The router refuses at once, not with a rejected promise, so the call
// itself is what may throw.
async function refusal(call: () => unknown): Promise<HttpError> {
  try {
    await call();
  } catch (error) {
    assert.ok(error instanceof HttpError, `not an HttpError: ${error}`);
    return error;
  }
  assert.fail("the router answered instead of throwing");
}

Deno.test("createRouter() dispatches a plain path to the handler of its method", async () => {
  const route = createRouter([
    routeTo("get", "GET", "/secret"),
    routeTo("post", "POST", "/secret"),
    routeTo("other", "GET", "/notsecret"),
  ]);
  const seen: Seen[] = [];

  const got = await route(request("/secret"), seen);
  const posted = await route(request("/secret", "POST"), seen);

  assert.equal(got.status, 200);
  assert.equal(await got.text(), "get");
  assert.equal(await posted.text(), "post");
  assert.deepEqual(seen, [
    { name: "get", params: {} },
    { name: "post", params: {} },
  ]);
});

Deno.test("createRouter() ignores the query string when matching", async () => {
  const route = createRouter([routeTo("me", "GET", "/me")]);

  const response = await route(request("/me?expand=1#x"), []);

  assert.equal(await response.text(), "me");
});

Deno.test("createRouter() passes the parameters a pattern captured", async () => {
  const route = createRouter([routeTo("user", "GET", "/users/:id")]);
  const seen: Seen[] = [];

  const response = await route(request("/users/42"), seen);

  assert.equal(await response.text(), "user");
  assert.deepEqual(seen, [{ name: "user", params: { id: "42" } }]);
});

Deno.test("createRouter() lets the first matching route win", async (t) => {
  await t.step("the first of two patterns that match", async () => {
    const route = createRouter([
      routeTo("first", "GET", "/files/:name"),
      routeTo("second", "GET", "/files/*"),
    ]);

    assert.equal(await (await route(request("/files/a"), [])).text(), "first");
  });

  await t.step(
    "the first handler declared for one method and path",
    async () => {
      const route = createRouter([
        routeTo("first", "GET", "/dup"),
        routeTo("second", "GET", "/dup"),
      ]);

      assert.equal(await (await route(request("/dup"), [])).text(), "first");
    },
  );

  await t.step(
    "a plain path before any pattern, whatever the order",
    async () => {
      const route = createRouter([
        routeTo("pattern", "GET", "/users/:id"),
        routeTo("plain", "GET", "/users/me"),
      ]);

      assert.equal(
        await (await route(request("/users/me"), [])).text(),
        "plain",
      );
      assert.equal(
        await (await route(request("/users/7"), [])).text(),
        "pattern",
      );
    },
  );
});

Deno.test("createRouter() answers 404 for an unknown path", async (t) => {
  const route = createRouter([
    routeTo("me", "GET", "/me"),
    routeTo("user", "GET", "/users/:id"),
  ]);

  for (const path of ["/nowhere", "/me/", "/ME", "/users", "/users/1/x"]) {
    await t.step(path, async () => {
      const error = await refusal(() => route(request(path), []));

      assert.equal(error.status, 404);
      assert.equal(error.detail, "Not Found");
      assert.equal(error.headers.get("allow"), null);
    });
  }

  await t.step("OPTIONS on an unknown path", async () => {
    const error = await refusal(() =>
      route(request("/nowhere", "OPTIONS"), [])
    );

    assert.equal(error.status, 404);
  });
});

Deno.test("createRouter() answers 405 with Allow for a known path", async (t) => {
  const route = createRouter([
    routeTo("get", "GET", "/secret"),
    routeTo("post", "POST", "/secret"),
    routeTo("logout", "POST", "/logout"),
    routeTo("user", "DELETE", "/users/:id"),
  ]);

  await t.step("a path with GET also allows HEAD and OPTIONS", async () => {
    const error = await refusal(() => route(request("/secret", "DELETE"), []));

    assert.equal(error.status, 405);
    assert.equal(error.detail, "Method Not Allowed");
    assert.equal(error.headers.get("allow"), "GET, POST, HEAD, OPTIONS");
  });

  await t.step("a path without GET refuses HEAD", async () => {
    const error = await refusal(() => route(request("/logout", "HEAD"), []));

    assert.equal(error.status, 405);
    assert.equal(error.headers.get("allow"), "POST, OPTIONS");
  });

  await t.step("a pattern path", async () => {
    const error = await refusal(() => route(request("/users/3", "PUT"), []));

    assert.equal(error.status, 405);
    assert.equal(error.headers.get("allow"), "DELETE, OPTIONS");
  });
});

Deno.test("createRouter() answers OPTIONS with 204 and the allowed methods", async () => {
  const route = createRouter([
    routeTo("get", "GET", "/secret"),
    routeTo("post", "POST", "/secret"),
  ]);
  const seen: Seen[] = [];

  const response = await route(request("/secret", "OPTIONS"), seen);

  assert.equal(response.status, 204);
  assert.equal(response.headers.get("allow"), "GET, POST, HEAD, OPTIONS");
  assert.equal(response.body, null);
  assert.deepEqual(seen, []);
});

Deno.test("createRouter() answers HEAD with the GET route's answer, body included, for the server to leave out", () => {
  const answer = new Response("hello", {
    status: 203,
    headers: { "content-type": "text/plain", "x-route": "get" },
  });
  const route = createRouter([{
    method: "GET",
    path: "/doc",
    handler: () => answer,
  }]);

  // Deno's server sends a HEAD answer's headers with the Content-Length
  // of its body and never the body (tests/e2e_test.ts checks the wire);
  // a body-less answer would be sent as `content-length: 0`.
  const response = route(request("/doc", "HEAD"), []);

  assert.equal(response, answer);
});

Deno.test("createRouter() answers HEAD from an async GET route with that route's answer", async () => {
  const answer = new Response("hello");
  const route = createRouter([{
    method: "GET",
    path: "/doc",
    handler: () => Promise.resolve(answer),
  }]);

  const response = await route(request("/doc", "HEAD"), []);

  assert.equal(response, answer);
});

Deno.test("createRouter() refuses HEAD where the GET route has side effects", async () => {
  const route = createRouter<Seen[]>([
    { ...routeTo("rotate", "GET", "/rotate"), headless: true },
  ]);
  const seen: Seen[] = [];

  const error = await refusal(() => route(request("/rotate", "HEAD"), seen));

  assert.equal(error.status, 405);
  assert.equal(error.headers.get("allow"), "GET, OPTIONS");
  assert.deepEqual(seen, []);
});

Deno.test("createRouter() hands the caller's context to the handler", async () => {
  const route = createRouter<{ user: string }>([{
    method: "GET",
    path: "/who",
    handler: (_request, context) => new Response(context.user),
  }]);

  const response = await route(request("/who"), { user: "alice" });

  assert.equal(await response.text(), "alice");
});

Deno.test("createRouter() lets a handler's error through unchanged", () => {
  const failure = new HttpError(409, "Account already exists");
  const route = createRouter([{
    method: "POST",
    path: "/signup",
    handler: () => {
      throw failure;
    },
  }]);

  assert.throws(() => route(request("/signup", "POST"), {}), failure);
});

Deno.test("requestPath() reads the path as the URL standard normalises it", async (t) => {
  const urls = [
    "http://localhost/",
    "http://localhost/notsecret",
    "http://localhost:8000/me?token=abc#frag",
    "http://localhost/docs/swagger-ui.css",
    "http://localhost/users/7/",
    "http://localhost/a/../notsecret",
    "http://localhost/./me",
    "http://localhost/me/.",
    "http://localhost/%6De",
    "http://localhost/%2e%2e/me",
    "http://localhost/.hidden",
    "http://localhost/a\\b",
    "http://localhost//double",
    "http://localhost/caf%C3%A9",
    "http://localhost/café",
    "http://localhost/a b",
    "http://localhost?only=query",
  ];
  for (const url of urls) {
    await t.step(url, () => {
      assert.equal(requestPath(new Request(url)), new URL(url).pathname);
    });
  }
});
