/**
 * The baseline of the HTTP benchmark: Deno's own server answering a
 * constant, the most any handler on this runtime and machine could do.
 *
 * @module
 */
const port = Number(Deno.args[0] ?? 0);
const BODY = JSON.stringify("ok");

Deno.serve(
  { hostname: "127.0.0.1", port, onListen: () => {} },
  () =>
    new Response(BODY, {
      headers: { "content-type": "application/json; charset=utf-8" },
    }),
);
