/**
 * The baselines of the HTTP benchmark: Deno's own server answering a
 * constant, the most any handler on this runtime and machine could do;
 * with `headers`, the same constant with the response headers the service
 * must send on every answer, the most any handler that sends them could do.
 *
 * @module
 */
const port = Number(Deno.args[0] ?? 0);
const withHeaders = Deno.args[1] === "headers";
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

Deno.serve(
  { hostname: "127.0.0.1", port, onListen: () => {} },
  withHeaders ? headed : plain,
);
