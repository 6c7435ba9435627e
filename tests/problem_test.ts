import assert from "node:assert/strict";
import { jsonResponse, problemResponse } from "../src/problem.ts";

Deno.test("problemResponse() writes an RFC 9457 body with the status's title", async () => {
  const response = problemResponse(401, "Token expired");

  assert.equal(response.status, 401);
  assert.equal(
    response.headers.get("content-type"),
    "application/problem+json",
  );
  assert.deepEqual(await response.json(), {
    type: "about:blank",
    title: "Unauthorized",
    status: 401,
    detail: "Token expired",
  });
});

Deno.test("problemResponse() titles each status the service answers with", async (t) => {
  const titles: [number, string][] = [
    [400, "Bad Request"],
    [401, "Unauthorized"],
    [403, "Forbidden"],
    [404, "Not Found"],
    [405, "Method Not Allowed"],
    [409, "Conflict"],
    [413, "Content Too Large"],
    [415, "Unsupported Media Type"],
    [422, "Unprocessable Content"],
    [429, "Too Many Requests"],
    [500, "Internal Server Error"],
    [503, "Service Unavailable"],
    [418, "Error"],
  ];
  for (const [status, title] of titles) {
    await t.step(`${status} ${title}`, async () => {
      const body = await problemResponse(status, "x").json();

      assert.equal(body.title, title);
      assert.equal(body.status, status);
    });
  }
});

Deno.test("problemResponse() adds field errors and a request id when given", async () => {
  const errors = [{
    field: "password",
    message: "must be at least 8 characters",
  }];

  const response = problemResponse(422, "Request body is invalid", {
    errors,
    requestId: "req-1",
  });

  assert.deepEqual(await response.json(), {
    type: "about:blank",
    title: "Unprocessable Content",
    status: 422,
    detail: "Request body is invalid",
    errors,
    request_id: "req-1",
  });
});

Deno.test("problemResponse() keeps given headers but always sets its content type", async () => {
  const response = problemResponse(405, "Method Not Allowed", {
    headers: { allow: "GET, OPTIONS", "content-type": "text/html" },
  });

  assert.equal(response.headers.get("allow"), "GET, OPTIONS");
  assert.equal(
    response.headers.get("content-type"),
    "application/problem+json",
  );
  await response.body?.cancel();
});

Deno.test("jsonResponse() answers 200 with a UTF-8 JSON body", async () => {
  const response = jsonResponse({ username: "Zoë" });

  assert.equal(response.status, 200);
  assert.equal(
    response.headers.get("content-type"),
    "application/json; charset=utf-8",
  );
  assert.deepEqual(await response.json(), { username: "Zoë" });
});

Deno.test("jsonResponse() takes a status and extra headers", async () => {
  const response = jsonResponse("Not secret data", {
    status: 201,
    headers: { "cache-control": "no-store", "content-type": "text/plain" },
  });

  assert.equal(response.status, 201);
  assert.equal(response.headers.get("cache-control"), "no-store");
  assert.equal(
    response.headers.get("content-type"),
    "application/json; charset=utf-8",
  );
  assert.equal(await response.text(), '"Not secret data"');
});
