/**
 * The API document and the page to read and try it: `/openapi.json`,
 * `/docs` and the page's files under `/docs/`.
 *
 * @module
 */
import { z } from "zod";
import { OPENAPI_DOCUMENT } from "./answer_schemas.ts";
import type { ApiRoute } from "./api_route.ts";
import {
  DOCS_CSP,
  DOCS_FILES,
  type DocsFile,
  docsPage,
} from "./docs_assets.ts";
import { HttpError } from "./http_error.ts";
import { createOpenApiDocument, type OpenApiOptions } from "./openapi.ts";

const FILE_NAMES = [...DOCS_FILES.keys()] as [string, ...string[]];

/**
 * The docs routes for a service whose other routes are `routes`. The
 * document is written once, here, and lists these routes too.
 *
 * @example Usage
 * ```ts
 * const all = [...routes, ...docsRoutes(routes, { title, version })];
 * ```
 * @throws {Error} if a route cannot be documented, as
 * {@linkcode createOpenApiDocument} says.
 */
export function docsRoutes(
  routes: ApiRoute[],
  options: OpenApiOptions,
): ApiRoute[] {
  const page = docsPage(`${options.title} API`);
  const own: ApiRoute[] = [{
    method: "GET",
    path: "/openapi.json",
    auth: "none",
    summary: "This OpenAPI 3.1 document",
    responses: { 200: "The document" },
    answers: { 200: { schema: OPENAPI_DOCUMENT } },
    handler: () =>
      new Response(document, {
        headers: { "content-type": "application/json; charset=utf-8" },
      }),
  }, {
    method: "GET",
    path: "/docs",
    auth: "none",
    summary: "A page to read and try the API",
    responses: { 200: "The page" },
    answers: { 200: { schema: z.string(), mediaTypes: ["text/html"] } },
    // Revalidated on every visit, so a new version's page is seen at once.
    handler: () => fileResponse(page, "no-cache"),
  }, {
    method: "GET",
    path: "/docs/:file",
    auth: "none",
    summary: "A script or stylesheet of the docs page",
    params: z.object({ file: z.enum(FILE_NAMES) }),
    responses: { 200: "The file", 404: "No such file" },
    answers: {
      200: { schema: z.string(), mediaTypes: ["text/css", "text/javascript"] },
    },
    handler: (_request, _context, params) => {
      const file = DOCS_FILES.get(params.file ?? "");
      if (!file) throw new HttpError(404, "Not Found");
      return fileResponse(file, "public, max-age=86400");
    },
  }];
  const document = new TextEncoder().encode(
    JSON.stringify(createOpenApiDocument([...routes, ...own], options)),
  );
  return own;
}

function fileResponse(file: DocsFile, cacheControl: string): Response {
  return new Response(file.body, {
    headers: {
      "content-type": file.contentType,
      "content-security-policy": DOCS_CSP,
      "cache-control": cacheControl,
    },
  });
}
