/**
 * One small request for each status the API document lists, keyed
 * "METHOD /path STATUS" as the document spells the path. The test in
 * `openapi_test.ts` sends each and holds the answer against the document.
 *
 * @module
 */
import { BODY_TIMEOUT_MS } from "../src/body.ts";
import { HashQueueFullError } from "../src/hash_pool.ts";
import { createPasswordHasher, type PasswordHasher } from "../src/passwords.ts";
import {
  bearer,
  json,
  openTestService,
  randomUsername,
  signUpAndLogIn,
  type TestService,
} from "./_helpers.ts";

/** The services the cases run against. */
export interface Lab {
  /** An ordinary service. */
  main: TestService;
  /** A service whose hashing queue is full. */
  busy: TestService;
  /** A service where another request changes the account during a check. */
  raced: TestService;
  /** Starts or stops the racing request on `raced`. */
  race(request: (() => Promise<void>) | undefined): void;
  /** Runs `fn` while `busy` hashes as usual, to make an account there. */
  whileIdle<T>(fn: () => Promise<T>): Promise<T>;
}

/** Sends the request of one case. */
export type Exercise = (lab: Lab) => Promise<Response>;

/** A password hasher that refuses all work once `full` is set. */
export interface BusyHasher extends PasswordHasher {
  full: boolean;
}

/** bcrypt at cost 4 until `full` is set, then a full queue. */
export function busyHasher(): BusyHasher {
  const bcrypt = createPasswordHasher({ cost: 4 });
  const refuse = () => Promise.reject(new HashQueueFullError(0));
  const hasher: BusyHasher = {
    full: false,
    hash: (password) => hasher.full ? refuse() : bcrypt.hash(password),
    verify: (password, hash) =>
      hasher.full ? refuse() : bcrypt.verify(password, hash),
  };
  return hasher;
}

/**
 * bcrypt at cost 4 that, while a race is set, runs it after each password
 * check: the account then changes between check and write.
 */
export function racingHasher(): {
  hasher: PasswordHasher;
  race(request: (() => Promise<void>) | undefined): void;
} {
  const bcrypt = createPasswordHasher({ cost: 4 });
  let current: (() => Promise<void>) | undefined;
  const hasher: PasswordHasher = {
    hash: (password) => bcrypt.hash(password),
    verify: async (password, hash) => {
      const matches = await bcrypt.verify(password, hash);
      const login = current;
      if (login) {
        // The racing login checks a password too; it must not race itself.
        current = undefined;
        try {
          await login();
        } finally {
          current = login;
        }
      }
      return matches;
    },
  };
  return { hasher, race: (login) => current = login };
}

/** Opens the services of a {@linkcode Lab}; dispose of it with `using`. */
export async function openLab(): Promise<Lab & AsyncDisposable> {
  const busy = busyHasher();
  const racing = racingHasher();
  const services = [
    await openTestService(),
    await openTestService({ hasher: busy }),
    await openTestService({ hasher: racing.hasher }),
  ] as const;
  busy.full = true;
  return {
    main: services[0],
    busy: services[1],
    raced: services[2],
    race: racing.race,
    whileIdle: async (fn) => {
      busy.full = false;
      try {
        return await fn();
      } finally {
        busy.full = true;
      }
    },
    [Symbol.asyncDispose]: async () => {
      for (const service of services) await service[Symbol.asyncDispose]();
    },
  };
}

const PASSWORD = "correct horse battery";
const FORM = { "content-type": "application/x-www-form-urlencoded" };
const JSON_HEADERS = { "content-type": "application/json" };

function form(fields: Record<string, string>): RequestInit {
  return {
    method: "POST",
    headers: FORM,
    body: new URLSearchParams(fields).toString(),
  };
}

// A wrong password, or a signup, as often as it takes a limit to step in.
async function throttled(
  send: () => Promise<Response>,
  tries = 20,
): Promise<Response> {
  for (let attempt = 1; attempt <= tries; attempt++) {
    const response = await send();
    if (response.status === 429) return response;
    await response.body?.cancel();
  }
  throw new Error(`Not answered 429 after ${tries} requests`);
}

/** A race that runs `fn` the first time only. */
export function once(fn: () => Promise<void>): () => Promise<void> {
  let done = false;
  return async () => {
    if (done) return;
    done = true;
    await fn();
  };
}

/**
 * A race that logs `username` in again, which rewrites the account record
 * but leaves its password hash as it was.
 */
export function logInAgain(
  service: TestService,
  username: string,
  password = PASSWORD,
): () => Promise<void> {
  return async () => {
    const response = await service.fetch(
      "/login",
      json({ username, password }),
    );
    await response.body?.cancel();
  };
}

/**
 * A race that changes the password of `username` to `next` once, from a
 * session of its own, so the hash moves under the check it runs after.
 * Being another session's change, it also ends the session raced.
 */
export async function passwordChangeElsewhere(
  service: TestService,
  username: string,
  options: { password?: string; next: string },
): Promise<() => Promise<void>> {
  const current = options.password ?? PASSWORD;
  const login = await service.fetch(
    "/login",
    json({ username, password: current }),
  );
  if (login.status !== 200) throw new Error(`Login: ${login.status}`);
  const token = (await login.json()).access_token;
  const body = { current_password: current, new_password: options.next };
  return once(async () => {
    const response = await service.fetch("/password", json(body, { token }));
    if (response.status !== 204) {
      throw new Error(`Password change elsewhere: ${response.status}`);
    }
  });
}

// The password changes elsewhere while the request checks it, so that
// the check it made no longer holds.
async function racing(
  lab: Lab,
  send: (token: string) => Promise<Response>,
): Promise<Response> {
  const { username, tokens } = await signUpAndLogIn(lab.raced, PASSWORD);
  const next = "changed elsewhere";
  lab.race(await passwordChangeElsewhere(lab.raced, username, { next }));
  try {
    return await send(tokens.access_token);
  } finally {
    lab.race(undefined);
  }
}

// A body that never arrives. The routes give a body BODY_TIMEOUT_MS to
// arrive; rather than wait that long, timers of that length run at once
// while the request is answered.
export async function stalled(
  send: (body: ReadableStream<Uint8Array>) => Promise<Response>,
): Promise<Response> {
  const realSetTimeout = globalThis.setTimeout;
  const hurried = (handler: () => void, ms?: number) =>
    realSetTimeout(handler, ms === BODY_TIMEOUT_MS ? 0 : ms);
  globalThis.setTimeout = hurried as typeof setTimeout;
  try {
    return await send(new ReadableStream({ cancel() {} }));
  } finally {
    globalThis.setTimeout = realSetTimeout;
  }
}

type BodyFault = 400 | 408 | 413 | 415 | 422;

// The ways a JSON body can be refused, sent with an access token where the
// route needs one.
function bodyFaults(
  method: string,
  path: string,
  options: { token: boolean; statuses: BodyFault[] },
): Record<string, Exercise> {
  const send = async (
    lab: Lab,
    headers: HeadersInit,
    body: BodyInit,
  ) => {
    const all = new Headers(headers);
    if (options.token) {
      const { tokens } = await signUpAndLogIn(lab.main, PASSWORD);
      all.set("authorization", `Bearer ${tokens.access_token}`);
    }
    return lab.main.fetch(path, { method, headers: all, body });
  };
  const tooLarge = JSON.stringify({ pad: "x".repeat(20 * 1024) });
  const faults: Record<BodyFault, Exercise> = {
    400: (lab) => send(lab, JSON_HEADERS, "{"),
    408: (lab) => stalled((body) => send(lab, JSON_HEADERS, body)),
    413: (lab) => send(lab, JSON_HEADERS, tooLarge),
    415: (lab) => send(lab, { "content-type": "text/plain" }, "{}"),
    422: (lab) => send(lab, JSON_HEADERS, "{}"),
  };
  return Object.fromEntries(
    options.statuses.map((status) => [
      `${method} ${path} ${status}`,
      faults[status],
    ]),
  );
}

// readJson() answers 408 on every route that reads a body, but no route
// lists it: until they do, their cases leave it out, or the check that
// every case is documented fails.
const LISTED_FAULTS: BodyFault[] = [400, 413, 415, 422];

const SIGNUP: Record<string, Exercise> = {
  "POST /signup 201": ({ main }) =>
    main.fetch(
      "/signup",
      json({ username: randomUsername(), password: PASSWORD }),
    ),
  ...bodyFaults("POST", "/signup", { token: false, statuses: LISTED_FAULTS }),
  "POST /signup 409": async ({ main }) => {
    const { username } = await signUpAndLogIn(main, PASSWORD);
    return main.fetch("/signup", json({ username, password: PASSWORD }));
  },
  "POST /signup 429": ({ main }) =>
    throttled(
      () =>
        main.fetch(
          "/signup",
          json({ username: randomUsername(), password: PASSWORD }),
          { address: "203.0.113.9" },
        ),
      40,
    ),
  "POST /signup 503": ({ busy }) =>
    busy.fetch(
      "/signup",
      json({ username: randomUsername(), password: PASSWORD }),
    ),
};

const LOGIN: Record<string, Exercise> = {
  "POST /login 200": async ({ main }) => {
    const { username } = await signUpAndLogIn(main, PASSWORD);
    return main.fetch("/login", json({ username, password: PASSWORD }));
  },
  ...bodyFaults("POST", "/login", { token: false, statuses: LISTED_FAULTS }),
  "POST /login 401": ({ main }) =>
    main.fetch("/login", json({ username: randomUsername(), password: "x" })),
  "POST /login 429": ({ main }) => {
    const username = randomUsername();
    return throttled(() =>
      main.fetch("/login", json({ username, password: "wrong" }))
    );
  },
  "POST /login 503": ({ busy }) =>
    busy.fetch("/login", json({ username: randomUsername(), password: "x" })),
};

const REFRESH: Record<string, Exercise> = {
  "GET /refresh_token 200": async ({ main }) => {
    const { tokens } = await signUpAndLogIn(main, PASSWORD);
    return main.fetch("/refresh_token", bearer(tokens.refresh_token));
  },
  "GET /refresh_token 401": ({ main }) => main.fetch("/refresh_token"),
  "POST /refresh_token 200": async ({ main }) => {
    const { tokens } = await signUpAndLogIn(main, PASSWORD);
    const body = { refresh_token: tokens.refresh_token };
    return main.fetch("/refresh_token", json(body));
  },
  ...bodyFaults("POST", "/refresh_token", {
    token: false,
    statuses: LISTED_FAULTS,
  }),
  "POST /refresh_token 401": ({ main }) =>
    main.fetch("/refresh_token", json({ refresh_token: "abc.def.ghi" })),
};

const TOKEN: Record<string, Exercise> = {
  "POST /token 200": async ({ main }) => {
    const { username } = await signUpAndLogIn(main, PASSWORD);
    const fields = { grant_type: "password", username, password: PASSWORD };
    return main.fetch("/token", form(fields));
  },
  "POST /token 400": ({ main }) =>
    main.fetch("/token", form({ grant_type: "client_credentials" })),
  "POST /token 413": ({ main }) => {
    const fields = { grant_type: "password", pad: "x".repeat(20 * 1024) };
    return main.fetch("/token", form(fields));
  },
  "POST /token 415": ({ main }) =>
    main.fetch("/token", {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "grant_type=password",
    }),
  "POST /token 429": ({ main }) => {
    const username = randomUsername();
    const fields = { grant_type: "password", username, password: "wrong" };
    return throttled(() => main.fetch("/token", form(fields)));
  },
  "POST /token 503": ({ busy }) => {
    const username = randomUsername();
    const fields = { grant_type: "password", username, password: "x" };
    return busy.fetch("/token", form(fields));
  },
};

const ACCOUNT: Record<string, Exercise> = {
  "GET /me 200": async ({ main }) => {
    const { tokens } = await signUpAndLogIn(main, PASSWORD);
    return main.fetch("/me", bearer(tokens.access_token));
  },
  "GET /me 401": ({ main }) => main.fetch("/me"),
  "POST /logout 204": async ({ main }) => {
    const { tokens } = await signUpAndLogIn(main, PASSWORD);
    return main.fetch("/logout", bearer(tokens.access_token, "POST"));
  },
  "POST /logout 401": ({ main }) => main.fetch("/logout", { method: "POST" }),
  "POST /password 204": async ({ main }) => {
    const { tokens } = await signUpAndLogIn(main, PASSWORD);
    const body = { current_password: PASSWORD, new_password: "another one!" };
    return main.fetch("/password", json(body, { token: tokens.access_token }));
  },
  ...bodyFaults("POST", "/password", { token: true, statuses: LISTED_FAULTS }),
  "POST /password 401": ({ main }) =>
    main.fetch("/password", json({ current_password: PASSWORD })),
  "POST /password 429": async ({ main }) => {
    const { tokens } = await signUpAndLogIn(main, PASSWORD);
    const body = { current_password: "wrong", new_password: "another one!" };
    const token = tokens.access_token;
    return throttled(() => main.fetch("/password", json(body, { token })));
  },
  "POST /password 503": async ({ busy, whileIdle }) => {
    const { tokens } = await whileIdle(() => signUpAndLogIn(busy, PASSWORD));
    const body = { current_password: PASSWORD, new_password: "another one!" };
    const token = tokens.access_token;
    return busy.fetch("/password", json(body, { token }));
  },
  "POST /password 409": (lab) =>
    racing(lab, (token) => {
      const body = { current_password: PASSWORD, new_password: "another one!" };
      return lab.raced.fetch("/password", json(body, { token }));
    }),
  "DELETE /me 204": async ({ main }) => {
    const { tokens } = await signUpAndLogIn(main, PASSWORD);
    const token = tokens.access_token;
    return main.fetch(
      "/me",
      json({ password: PASSWORD }, { method: "DELETE", token }),
    );
  },
  ...bodyFaults("DELETE", "/me", { token: true, statuses: LISTED_FAULTS }),
  "DELETE /me 401": ({ main }) =>
    main.fetch("/me", json({ password: PASSWORD }, { method: "DELETE" })),
  "DELETE /me 429": async ({ main }) => {
    const { tokens } = await signUpAndLogIn(main, PASSWORD);
    const init = json({ password: "wrong" }, {
      method: "DELETE",
      token: tokens.access_token,
    });
    return throttled(() => main.fetch("/me", init));
  },
  "DELETE /me 503": async ({ busy, whileIdle }) => {
    const { tokens } = await whileIdle(() => signUpAndLogIn(busy, PASSWORD));
    const init = json({ password: PASSWORD }, {
      method: "DELETE",
      token: tokens.access_token,
    });
    return busy.fetch("/me", init);
  },
  "DELETE /me 409": (lab) =>
    racing(lab, (token) =>
      lab.raced.fetch(
        "/me",
        json({ password: PASSWORD }, { method: "DELETE", token }),
      )),
};

const PUBLIC: Record<string, Exercise> = {
  "GET /secret 200": async ({ main }) => {
    const { tokens } = await signUpAndLogIn(main, PASSWORD);
    return main.fetch("/secret", bearer(tokens.access_token));
  },
  "GET /secret 401": ({ main }) => main.fetch("/secret"),
  "POST /secret 200": async ({ main }) => {
    const { tokens } = await signUpAndLogIn(main, PASSWORD);
    return main.fetch("/secret", bearer(tokens.access_token, "POST"));
  },
  "POST /secret 401": ({ main }) => main.fetch("/secret", { method: "POST" }),
  "GET /notsecret 200": ({ main }) => main.fetch("/notsecret"),
  "GET /healthz 200": ({ main }) => main.fetch("/healthz"),
  "GET /healthz 503": async () => {
    // Closed by hand, so not disposed of: that would close it twice.
    const service = await openTestService();
    service.kv.close();
    return service.fetch("/healthz");
  },
};

const DOCS: Record<string, Exercise> = {
  "GET /openapi.json 200": ({ main }) => main.fetch("/openapi.json"),
  "GET /docs 200": ({ main }) => main.fetch("/docs"),
  "GET /docs/{file} 200": ({ main }) => main.fetch("/docs/init.js"),
  "GET /docs/{file} 404": ({ main }) => main.fetch("/docs/missing.js"),
};

/** Every case, by "METHOD /path STATUS". */
export const CASES: Readonly<Record<string, Exercise>> = {
  ...SIGNUP,
  ...LOGIN,
  ...REFRESH,
  ...TOKEN,
  ...ACCOUNT,
  ...PUBLIC,
  ...DOCS,
};
