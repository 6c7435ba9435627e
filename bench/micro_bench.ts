/**
 * Micro-benchmarks of the hot paths behind every request: token signing,
 * token verification and route matching. Run with `deno task bench`.
 *
 * @module
 */
import { createRouter, type Route } from "../src/router.ts";
import { createTokens } from "../src/tokens.ts";

const clock = { now: () => Date.now() };
const secret = new TextEncoder().encode("a-benchmark-secret-of-32-bytes-x");
const tokens = await createTokens(secret, { clock, accessTtlMs: 1_800_000 });
const access = await tokens.signAccess("alice", crypto.randomUUID());

Deno.bench("tokens: sign an access token", { group: "tokens" }, async () => {
  await tokens.signAccess("alice", "session");
});

// Tokens no check has seen, so each one costs the full HMAC check.
const uncached = await createTokens(secret, {
  clock,
  accessTtlMs: 1_800_000,
  cacheSize: 1,
});
const fresh = await Promise.all(
  Array.from({ length: 1000 }, () => uncached.signAccess("alice", "session")),
);
let turn = 0;

Deno.bench("tokens: verify an access token seen before", {
  group: "tokens",
}, async () => {
  await tokens.verifyAccess(access);
});

Deno.bench("tokens: verify an access token for the first time", {
  group: "tokens",
}, async () => {
  turn = (turn + 1) % fresh.length;
  await uncached.verifyAccess(fresh[turn] as string);
});

const PATHS = [
  "/signup",
  "/login",
  "/refresh_token",
  "/token",
  "/secret",
  "/notsecret",
  "/me",
  "/logout",
  "/password",
  "/healthz",
  "/openapi.json",
  "/docs",
];
const OK = new Response(null, { status: 204 });
const routes: Route<null>[] = PATHS.flatMap((path) => [
  { method: "GET", path, handler: () => OK },
  { method: "POST", path, handler: () => OK },
]);
routes.push({ method: "GET", path: "/docs/:file", handler: () => OK });
const route = createRouter(routes);
const plain = new Request("http://localhost/notsecret");
const patterned = new Request("http://localhost/docs/swagger-ui.css");
const unknown = new Request("http://localhost/nowhere");

Deno.bench("router: match a plain path", { group: "router" }, async () => {
  await route(plain, null);
});

Deno.bench("router: match a pattern", { group: "router" }, async () => {
  await route(patterned, null);
});

Deno.bench("router: refuse an unknown path", { group: "router" }, async () => {
  try {
    await route(unknown, null);
  } catch {
    // The 404 is the result being measured.
  }
});
