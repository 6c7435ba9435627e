import assert from "node:assert/strict";
import { assertProblem } from "./_assertions.ts";
import { openTestService } from "./_helpers.ts";

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
  "img-src 'self' data:; font-src 'self'; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const FILES = [
  ["swagger-ui.css", "text/css; charset=utf-8"],
  ["swagger-ui-bundle.js", "text/javascript; charset=utf-8"],
  ["init.js", "text/javascript; charset=utf-8"],
] as const;

Deno.test("GET /docs answers the docs page under a strict CSP", async (t) => {
  await using service = await openTestService();

  await t.step("answers 200 with HTML, the CSP and no-cache", async () => {
    const response = await service.fetch("/docs");
    assert.equal(response.status, 200);
    assert.equal(
      response.headers.get("content-type"),
      "text/html; charset=utf-8",
    );
    assert.equal(response.headers.get("content-security-policy"), CSP);
    assert.equal(response.headers.get("cache-control"), "no-cache");
    assert.match(await response.text(), /<div id="swagger-ui"><\/div>/);
  });

  await t.step("loads only its own files, with no inline script", async () => {
    const html = await (await service.fetch("/docs")).text();
    const scripts = [...html.matchAll(/<script([^>]*)>([^<]*)<\/script>/g)];
    assert.deepEqual(scripts.map(([, attributes]) => attributes), [
      ' src="/docs/swagger-ui-bundle.js"',
      ' src="/docs/init.js"',
    ]);
    assert.ok(scripts.every(([, , body]) => body === ""));
    assert.doesNotMatch(html, /<style|style=|https?:/);
    assert.match(html, /<link rel="stylesheet" href="\/docs\/swagger-ui.css">/);
  });
});

Deno.test("GET /docs/{file} answers the page's files", async (t) => {
  await using service = await openTestService();

  for (const [name, type] of FILES) {
    await t.step(`answers 200 with ${name}, cacheable`, async () => {
      const response = await service.fetch(`/docs/${name}`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), type);
      assert.equal(response.headers.get("content-security-policy"), CSP);
      assert.equal(
        response.headers.get("cache-control"),
        "public, max-age=86400",
      );
      const text = await response.text();
      assert.ok(text.length > 0);
      assert.doesNotMatch(text, /sourceMappingURL=\S+\s*$/);
    });
  }

  await t.step(
    "starts swagger-ui on /openapi.json without the outside validator",
    async () => {
      const text = await (await service.fetch("/docs/init.js")).text();
      assert.match(text, /url: "\/openapi.json"/);
      assert.match(text, /validatorUrl: null/);
    },
  );

  await t.step("answers HEAD with the GET answer", async () => {
    // The server leaves the body out (tests/e2e_test.ts).
    const response = await service.fetch("/docs/init.js", { method: "HEAD" });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-security-policy"), CSP);
    assert.match(await response.text(), /url: "\/openapi.json"/);
  });

  await t.step("answers 404 for a file the page does not have", async () => {
    for (
      const name of ["missing.js", "swagger-ui-bundle.js.map", "index.html"]
    ) {
      const response = await service.fetch(`/docs/${name}`);
      await assertProblem(response, 404, "Not Found");
    }
  });
});

Deno.test("GET /openapi.json answers the same document every time", async () => {
  await using service = await openTestService();
  const first = await (await service.fetch("/openapi.json")).text();
  const second = await (await service.fetch("/openapi.json")).text();
  assert.equal(second, first);
  assert.equal(JSON.parse(first).info.title, "Auth service");
});
