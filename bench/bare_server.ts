/**
 * The baselines of the HTTP benchmark: Deno's own server answering a
 * constant, the most any handler on this runtime and machine could do;
 * with `headers`, the same constant with the response headers the service
 * must send on every answer, the most any handler that sends them could do;
 * with `contract`, also reading what every request of the HTTP contract
 * needs read (the request id and the path) and a fresh request id, the
 * most any handler that keeps the contract could do.
 *
 * @module
 */
const port = Number(Deno.args[0] ?? 0);
const mode = Deno.args[1] ?? "plain";
const BODY = JSON.stringify("ok");
const CONTENT_TYPE: [string, string] = [
  "content-type",
  "application/json; charset=utf-8",
];
const SERVICE_HEADERS: [string, string][] = [
  ["x-content-type-options", "nosniff"],
  ["referrer-policy", "no-referrer"],
  ["x-frame-options", "DENY"],
  ["cache-control", "no-store"],
  ["x-request-id", "0f8fad5b-d9cb-469f-a165-70867728950e"],
];

function plain(): Response {
  return new Response(BODY, { headers: [CONTENT_TYPE] });
}

// Headers set on a made response are the cheapest way to send several;
// handing them to the constructor costs more.
function headed(): Response {
  const response = new Response(BODY);
  const headers = response.headers;
  headers.set(...CONTENT_TYPE);
  for (const [name, value] of SERVICE_HEADERS) headers.set(name, value);
  return response;
}

function contract(request: Request): Response {
  const given = request.headers.get("x-request-id");
  const path = new URL(request.url).pathname;
  if (!path.startsWith("/")) return new Response(null, { status: 404 });
  const response = headed();
  response.headers.set("x-request-id", given ?? crypto.randomUUID());
  return response;
}

const HANDLERS: Record<string, Deno.ServeHandler> = {
  plain,
  headers: headed,
  contract,
};

Deno.serve(
  { hostname: "127.0.0.1", port, onListen: () => {} },
  HANDLERS[mode] ?? plain,
);
