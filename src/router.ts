/**
 * A small router on the built-in `URLPattern`: routes are declared once in
 * a table; the first match wins; an unknown path is 404 and a known path
 * with another method is 405 with `Allow`.
 *
 * @module
 */
import { HttpError } from "./http_error.ts";

/** The parameters a pattern captured, such as `{ id: "42" }`. */
export type Params = Record<string, string | undefined>;

/** Answers one request; `C` is whatever the caller passes along. */
export type RouteHandler<C> = (
  request: Request,
  context: C,
  params: Params,
) => Response | Promise<Response>;

/** One entry of a routing table. */
export interface Route<C> {
  /** An HTTP method in upper case. */
  method: string;
  /** A `URLPattern` pathname, such as `/users/:id`, or a plain path. */
  path: string;
  handler: RouteHandler<C>;
  /**
   * Refuse `HEAD` for this `GET` route: it has side effects that a `HEAD`
   * from a prefetcher or monitor must not trigger.
   */
  headless?: boolean;
}

interface PathEntry<C> {
  pattern: URLPattern | undefined;
  methods: Map<string, RouteHandler<C>>;
  headless: boolean;
}

/**
 * Dispatches a request to the matching route. A synchronous handler is
 * answered synchronously, so the common case makes no promise at all.
 */
export type Router<C> = (
  request: Request,
  context: C,
) => Response | Promise<Response>;

const PATTERN_SYNTAX = /[:*(){}?+]/;

// Paths of this shape mean the same before and after WHATWG URL
// normalisation (no dot segments, no percent escapes, no backslashes), so
// they can be read off the request's URL string without parsing it.
const PLAIN_PATH = /^(?:\/[\w~-][\w.~-]*)*\/?$/;

/**
 * The path of a request's URL as the URL standard normalises it, without
 * its query.
 *
 * @example Usage
 * ```ts
 * requestPath(new Request("http://localhost/me?x=1")); // "/me"
 * ```
 */
export function requestPath(request: Request): string {
  const url = request.url;
  const start = url.indexOf("/", url.indexOf("//") + 2);
  let end = url.length;
  for (const mark of ["?", "#"]) {
    const at = url.indexOf(mark, start);
    if (at !== -1 && at < end) end = at;
  }
  const raw = start === -1 ? "" : url.slice(start, end);
  return PLAIN_PATH.test(raw) && raw !== "" ? raw : new URL(url).pathname;
}

/**
 * Creates a router for a table of routes. Plain paths are looked up in a
 * map before any pattern is tried. `HEAD` is answered by the `GET` route,
 * unless that route is `headless`, with the `GET` answer itself: the
 * server, not the router, leaves its body out. `OPTIONS` is answered with
 * the allowed methods.
 *
 * @example Usage
 * ```ts
 * const route = createRouter([
 *   { method: "GET", path: "/hello", handler: () => new Response("hi") },
 * ]);
 * await route(new Request("http://localhost/hello"), {});
 * ```
 * @throws {HttpError} 404 for an unknown path, 405 for a method the path
 * does not have, at once rather than as a rejected promise; a handler's own
 * error comes out as the handler gave it.
 */
export function createRouter<C>(routes: Route<C>[]): Router<C> {
  const plain = new Map<string, PathEntry<C>>();
  const patterned: PathEntry<C>[] = [];
  const byPath = new Map<string, PathEntry<C>>();
  for (const route of routes) {
    let entry = byPath.get(route.path);
    if (!entry) {
      const isPattern = PATTERN_SYNTAX.test(route.path);
      entry = {
        pattern: isPattern
          ? new URLPattern({ pathname: route.path })
          : undefined,
        methods: new Map(),
        headless: false,
      };
      byPath.set(route.path, entry);
      if (isPattern) patterned.push(entry);
      else plain.set(route.path, entry);
    }
    if (!entry.methods.has(route.method)) {
      entry.methods.set(route.method, route.handler);
      if (route.method === "GET") entry.headless = route.headless ?? false;
    }
  }

  return (request, context) => {
    const { entry, params } = find(plain, patterned, requestPath(request));
    if (!entry) throw new HttpError(404, "Not Found");
    const method = request.method === "HEAD" && !entry.headless
      ? "GET"
      : request.method;
    const handler = entry.methods.get(method);
    // A HEAD gets the GET answer, body and all: Deno's server sends its
    // headers with the body's Content-Length and leaves the body out, as
    // RFC 9110, section 9.3.2 asks. A body-less copy would go out as
    // `content-length: 0`, which is not what GET sends (section 8.6).
    if (handler) return handler(request, context, params);
    const allow = allowed(entry).join(", ");
    if (request.method === "OPTIONS") {
      return new Response(null, { status: 204, headers: { allow } });
    }
    throw new HttpError(405, "Method Not Allowed", { headers: { allow } });
  };
}

function find<C>(
  plain: Map<string, PathEntry<C>>,
  patterned: PathEntry<C>[],
  pathname: string,
): { entry: PathEntry<C> | undefined; params: Params } {
  const exact = plain.get(pathname);
  if (exact) return { entry: exact, params: {} };
  for (const entry of patterned) {
    const match = entry.pattern?.exec({ pathname });
    if (match) return { entry, params: match.pathname.groups };
  }
  return { entry: undefined, params: {} };
}

function allowed<C>(entry: PathEntry<C>): string[] {
  const methods = [...entry.methods.keys()];
  if (methods.includes("GET") && !entry.headless) methods.push("HEAD");
  return [...methods, "OPTIONS"];
}
