import SwaggerParser from "@apidevtools/swagger-parser";
import { Ajv2020 } from "ajv/dist/2020.js";
import assert from "node:assert/strict";
import { z } from "zod";
import { TOKEN_PAIR } from "../src/answer_schemas.ts";
import type { ApiRoute } from "../src/api_route.ts";
import {
  createOpenApiDocument,
  type JsonObject,
  openApiPath,
} from "../src/openapi.ts";
import { CASES, openLab } from "./_openapi_cases.ts";
import { openTestService } from "./_helpers.ts";

// deno-lint-ignore no-explicit-any
type Doc = any;

// Written out from the HTTP contract rather than read from the code.
const TOKEN_ANSWERS = [
  "POST /login",
  "GET /refresh_token",
  "POST /refresh_token",
  "POST /token",
];
const ACCESS_ROUTES = [
  "GET /me",
  "DELETE /me",
  "POST /logout",
  "POST /password",
  "GET /secret",
  "POST /secret",
];

async function fetchDocument(): Promise<{ doc: Doc; routes: ApiRoute[] }> {
  await using service = await openTestService();
  const response = await service.fetch("/openapi.json");
  assert.equal(response.status, 200);
  assert.equal(
    response.headers.get("content-type"),
    "application/json; charset=utf-8",
  );
  return { doc: await response.json(), routes: service.routes };
}

function operationOf(doc: Doc, route: ApiRoute): Doc {
  return doc.paths[openApiPath(route.path)]?.[route.method.toLowerCase()];
}

function operations(doc: Doc): [string, Doc][] {
  return Object.entries(doc.paths as Record<string, Doc>).flatMap((
    [path, item],
  ) =>
    Object.entries(item as Record<string, Doc>).map((
      [method, op],
    ): [string, Doc] => [`${method.toUpperCase()} ${path}`, op])
  );
}

Deno.test("GET /openapi.json answers an OpenAPI 3.1 document of every route", async (t) => {
  const { doc, routes } = await fetchDocument();

  await t.step("is valid OpenAPI 3.1 for swagger-parser", async () => {
    assert.equal(doc.openapi, "3.1.0");
    await SwaggerParser.validate(structuredClone(doc));
  });

  await t.step("lists every route of the table and nothing else", () => {
    for (const route of routes) {
      const op = operationOf(doc, route);
      assert.ok(op, `${route.method} ${route.path} is missing`);
      assert.equal(op.summary, route.summary);
    }
    assert.equal(operations(doc).length, routes.length);
    const keys = operations(doc).map(([key]) => key);
    for (const own of ["GET /openapi.json", "GET /docs", "GET /docs/{file}"]) {
      assert.ok(keys.includes(own), `${own} is missing`);
    }
  });

  await t.step("gives each operation its own operationId", () => {
    const ids = operations(doc).map(([, op]) => op.operationId);
    assert.equal(new Set(ids).size, ids.length);
  });

  await t.step("describes request bodies with the routes' zod schemas", () => {
    for (const route of routes) {
      const content = operationOf(doc, route).requestBody?.content;
      if (!route.body) {
        assert.equal(content, undefined, `${route.method} ${route.path}`);
        continue;
      }
      const { $schema, ...expected } = z.toJSONSchema(route.body, {
        io: "input",
      });
      assert.equal($schema, "https://json-schema.org/draft/2020-12/schema");
      assert.deepEqual(content["application/json"].schema, expected);
    }
  });

  await t.step("takes the token endpoint's body as a form or JSON", () => {
    const content = doc.paths["/token"].post.requestBody.content;
    assert.deepEqual(Object.keys(content).sort(), [
      "application/json",
      "application/x-www-form-urlencoded",
    ]);
  });

  await t.step("lists exactly the statuses each route declares", () => {
    for (const route of routes) {
      const responses = operationOf(doc, route).responses;
      const expected = Object.fromEntries(
        Object.entries(route.responses).map(([status, text]) => [status, text]),
      );
      const described = Object.fromEntries(
        Object.entries(responses as Record<string, Doc>)
          .map(([status, answer]) => [status, answer.description]),
      );
      assert.deepEqual(described, expected, `${route.method} ${route.path}`);
    }
  });

  await t.step("answers tokens with the token pair schema", () => {
    const ref = { $ref: "#/components/schemas/TokenPair" };
    for (const key of TOKEN_ANSWERS) {
      const [method = "", path = ""] = key.split(" ");
      const answer = doc.paths[path][method.toLowerCase()].responses[200];
      assert.deepEqual(answer.content["application/json"].schema, ref, key);
    }
    const { $schema: _, ...expected } = z.toJSONSchema(TOKEN_PAIR);
    assert.deepEqual(doc.components.schemas.TokenPair, expected);
  });

  await t.step(
    "answers errors with problem details, and OAuth errors at /token",
    () => {
      for (const [key, op] of operations(doc)) {
        for (const [status, answer] of Object.entries(op.responses as Doc)) {
          if (Number(status) < 400) continue;
          const content = (answer as Doc).content;
          const schema = key === "POST /token"
            ? content["application/json"]?.schema
            : content["application/problem+json"]?.schema;
          const name = key === "POST /token"
            ? "OAuthError"
            : status === "422"
            ? "ValidationProblem"
            : "Problem";
          assert.deepEqual(schema, { $ref: `#/components/schemas/${name}` });
        }
      }
      const problem = doc.components.schemas.ValidationProblem;
      assert.ok(problem.required.includes("errors"));
      assert.equal(problem.properties.errors.type, "array");
    },
  );

  await t.step("asks for a Bearer JWT where a route reads one", () => {
    const http = { type: "http", scheme: "bearer", bearerFormat: "JWT" };
    for (const name of ["accessToken", "refreshToken"]) {
      const { description: _, ...scheme } =
        doc.components.securitySchemes[name];
      assert.deepEqual(scheme, http);
    }
    for (const [key, op] of operations(doc)) {
      const expected = key === "GET /refresh_token"
        ? [{ refreshToken: [] }]
        : ACCESS_ROUTES.includes(key)
        ? [{ accessToken: [] }]
        : undefined;
      assert.deepEqual(op.security, expected, key);
    }
  });

  await t.step("documents the WWW-Authenticate challenge on every 401", () => {
    let seen = 0;
    for (const [key, op] of operations(doc)) {
      const answer = op.responses[401];
      if (!answer) continue;
      seen++;
      const header = answer.headers?.["WWW-Authenticate"];
      assert.equal(header?.required, true, key);
    }
    assert.ok(seen >= ACCESS_ROUTES.length + 2);
  });
});

Deno.test("createOpenApiDocument() refuses routes it cannot document", async (t) => {
  const options = { title: "Test", version: "1" };
  const route: ApiRoute = {
    method: "GET",
    path: "/thing",
    auth: "none",
    summary: "A thing",
    responses: { 200: "The thing" },
    answers: { 200: { schema: z.string() } },
    handler: () => new Response(),
  };

  await t.step("documents a well-described route", () => {
    const doc: JsonObject = createOpenApiDocument([route], options);
    assert.ok(doc.paths);
  });

  await t.step("throws for a success without a body schema", () => {
    const bare = { ...route, answers: {} };
    assert.throws(
      () => createOpenApiDocument([bare], options),
      { message: 'Cannot document "GET /thing": no body for status 200' },
    );
  });

  await t.step("throws for one method and path twice", () => {
    assert.throws(
      () => createOpenApiDocument([route, route], options),
      { message: 'Cannot document "GET /thing" twice' },
    );
  });

  await t.step("throws for a path pattern beyond :name", () => {
    assert.throws(
      () => createOpenApiDocument([{ ...route, path: "/files/*" }], options),
      { message: 'Cannot document path pattern "/files/*"' },
    );
  });
});

Deno.test("Every status in the API document is answered as documented", async (t) => {
  await using lab = await openLab();
  const doc = await (await lab.main.fetch("/openapi.json")).json();
  const resolved: Doc = await SwaggerParser.dereference(structuredClone(doc));
  const listed = operations(doc).flatMap(([key, op]) =>
    Object.keys(op.responses).map((status) => `${key} ${status}`)
  );

  await t.step("has one case for each listed status and no other", () => {
    const cases = Object.keys(CASES);
    assert.deepEqual(listed.filter((key) => !cases.includes(key)), []);
    assert.deepEqual(cases.filter((key) => !listed.includes(key)), []);
  });

  for (const key of listed) {
    const exercise = CASES[key];
    if (!exercise) continue;
    await t.step(`${key} is answered as documented`, async () => {
      await assertDocumented(resolved, key, await exercise(lab));
    });
  }
});

const ajv = new Ajv2020({
  allErrors: true,
  formats: { "date-time": (text: string) => !Number.isNaN(Date.parse(text)) },
});

async function assertDocumented(
  doc: Doc,
  key: string,
  response: Response,
): Promise<void> {
  const [method = "", path = "", status = ""] = key.split(" ");
  const spec = doc.paths[path][method.toLowerCase()].responses[status];
  assert.equal(response.status, Number(status));
  for (const [name, header] of Object.entries(spec.headers ?? {})) {
    if (!(header as Doc).required) continue;
    assert.ok(response.headers.has(name), `the ${name} header is missing`);
  }
  const text = await response.text();
  if (!spec.content) {
    assert.equal(text, "");
    return;
  }
  const header = response.headers.get("content-type") ?? "";
  const type = (header.split(";")[0] ?? "").trim();
  const media = spec.content[type];
  assert.ok(media, `"${type}" is not among ${Object.keys(spec.content)}`);
  const body = type.endsWith("json") ? JSON.parse(text) : text;
  const validate = ajv.compile(media.schema);
  assert.ok(validate(body), ajv.errorsText(validate.errors));
}
