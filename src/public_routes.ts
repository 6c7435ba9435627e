/**
 * The tutorial's demonstration routes and the health check.
 *
 * @module
 */
import { HEALTH, MESSAGE } from "./answer_schemas.ts";
import type { ApiRoute } from "./api_route.ts";
import { HttpError } from "./http_error.ts";
import { jsonResponse } from "./problem.ts";
import type { Store } from "./store.ts";

const SECRET = "Top Secret data only authorized users can access this info";

/** Options for {@linkcode publicRoutes}. */
export interface PublicRoutesOptions {
  store: Store;
}

const MESSAGE_ANSWER = { 200: { schema: MESSAGE } };

/** The routes `/secret`, `/notsecret` and `/healthz`. */
export function publicRoutes(options: PublicRoutesOptions): ApiRoute[] {
  const secret = (): Response => jsonResponse(SECRET);
  const unauthorized = { 401: "Not authenticated, or token expired/invalid" };
  return [{
    method: "GET",
    path: "/secret",
    answers: MESSAGE_ANSWER,
    auth: "access",
    summary: "Data for holders of an access token",
    responses: { 200: "The secret", ...unauthorized },
    handler: secret,
  }, {
    method: "POST",
    path: "/secret",
    answers: MESSAGE_ANSWER,
    auth: "access",
    summary: "Data for holders of an access token",
    responses: { 200: "The secret", ...unauthorized },
    handler: secret,
  }, {
    method: "GET",
    path: "/notsecret",
    answers: MESSAGE_ANSWER,
    auth: "none",
    summary: "Data for anyone",
    responses: { 200: "Public data" },
    handler: () => jsonResponse("Not secret data"),
  }, {
    method: "GET",
    path: "/healthz",
    answers: { 200: { schema: HEALTH } },
    auth: "none",
    summary: "Whether the service and its store answer",
    responses: { 200: "Healthy", 503: "Store unavailable" },
    handler: async () => {
      try {
        await options.store.ping();
      } catch (error) {
        throw new HttpError(503, "Store unavailable", { cause: error });
      }
      return jsonResponse({ status: "ok" });
    },
  }];
}
