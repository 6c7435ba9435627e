import assert from "node:assert/strict";
import {
  ALGORITHM,
  createTokens,
  type RefreshClaims,
  TokenError,
  type Tokens,
} from "../src/tokens.ts";
import { FakeClock } from "./_helpers.ts";

const encoder = new TextEncoder();
const SECRET = encoder.encode("tokens-test-secret-of-enough-bytes!!");
const OTHER_SECRET = encoder.encode("another-secret-of-enough-bytes-too!!");
const ACCESS_TTL_MS = 30 * 60 * 1000;
const START = Date.UTC(2026, 0, 1);

function base64url(data: Uint8Array | string): string {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  return btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function decodePart(part: string | undefined): Record<string, unknown> {
  const base64 = (part ?? "").replaceAll("-", "+").replaceAll("_", "/");
  return JSON.parse(atob(base64));
}

// Signs a JWT by hand, so tests can forge what the service never issues.
async function forge(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  options: { secret?: Uint8Array; hash?: string } = {},
): Promise<string> {
  const input = `${base64url(JSON.stringify(header))}.${
    base64url(JSON.stringify(payload))
  }`;
  const key = await crypto.subtle.importKey(
    "raw",
    (options.secret ?? SECRET) as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: options.hash ?? "SHA-256" },
    false,
    ["sign"],
  );
  const signature = await crypto.subtle.sign(
    "HMAC",
    key,
    encoder.encode(input),
  );
  return `${input}.${base64url(new Uint8Array(signature))}`;
}

function accessPayload(overrides: Record<string, unknown> = {}) {
  const iat = START / 1000;
  return {
    sub: "alice",
    sid: "session-1",
    jti: "jti-1",
    iat,
    exp: iat + 60,
    token_use: "access",
    ...overrides,
  };
}

function refreshClaims(overrides: Partial<RefreshClaims> = {}): RefreshClaims {
  const iat = START / 1000;
  return {
    sub: "alice",
    sid: "session-1",
    jti: "refresh-jti-1",
    iat,
    exp: iat + 36_000,
    gen: 0,
    ...overrides,
  };
}

async function setUp(): Promise<{ tokens: Tokens; clock: FakeClock }> {
  const clock = new FakeClock(START);
  const tokens = await createTokens(SECRET, {
    clock,
    accessTtlMs: ACCESS_TTL_MS,
  });
  return { tokens, clock };
}

async function refusal(promise: Promise<unknown>): Promise<TokenError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof TokenError, `not a TokenError: ${error}`);
    return error;
  }
  assert.fail("the token was accepted");
}

Deno.test("createTokens() signs access tokens with HS256 and the documented claims", async () => {
  const { tokens } = await setUp();

  const token = await tokens.signAccess("alice", "session-1");

  const [header, payload] = token.split(".");
  assert.deepEqual(decodePart(header), { alg: ALGORITHM, typ: "JWT" });
  const claims = decodePart(payload);
  assert.equal(claims.sub, "alice");
  assert.equal(claims.sid, "session-1");
  assert.equal(claims.token_use, "access");
  assert.equal(claims.iat, START / 1000);
  assert.equal(claims.exp, START / 1000 + 1800);
  assert.match(String(claims.jti), /^[0-9a-f-]{36}$/);
});

Deno.test("createTokens() gives each access token its own jti", async () => {
  const { tokens } = await setUp();

  const first = await tokens.verifyAccess(await tokens.signAccess("a", "s"));
  const second = await tokens.verifyAccess(await tokens.signAccess("a", "s"));

  assert.notEqual(first.jti, second.jti);
});

Deno.test("createTokens() rounds a lifetime up to whole seconds", async () => {
  const clock = new FakeClock(START + 400);
  const tokens = await createTokens(SECRET, { clock, accessTtlMs: 1500 });

  const claims = await tokens.verifyAccess(await tokens.signAccess("a", "s"));

  assert.equal(claims.iat, START / 1000);
  assert.equal(claims.exp, START / 1000 + 2);
});

Deno.test("verifyAccess() returns the claims of a token it signed", async () => {
  const { tokens } = await setUp();
  const token = await tokens.signAccess("alice", "session-1");

  const claims = await tokens.verifyAccess(token);

  assert.deepEqual(Object.keys(claims).sort(), [
    "exp",
    "iat",
    "jti",
    "sid",
    "sub",
  ]);
  assert.equal(claims.sub, "alice");
  assert.equal(claims.sid, "session-1");
  assert.equal(claims.exp - claims.iat, 1800);
});

Deno.test("verifyAccess() accepts a token until its exp and not from then on", async (t) => {
  const { tokens, clock } = await setUp();
  const token = await tokens.signAccess("alice", "session-1");
  const expMs = START + ACCESS_TTL_MS;

  await t.step("one second before exp", async () => {
    clock.set(expMs - 1000);

    assert.equal((await tokens.verifyAccess(token)).sub, "alice");
  });

  await t.step("one millisecond before exp", async () => {
    clock.set(expMs - 1);

    assert.equal((await tokens.verifyAccess(token)).sub, "alice");
  });

  await t.step("exactly at exp", async () => {
    clock.set(expMs);

    const error = await refusal(tokens.verifyAccess(token));

    assert.equal(error.code, "expired");
    assert.equal(error.message, "Token expired");
  });

  await t.step("one second after exp", async () => {
    clock.set(expMs + 1000);

    const error = await refusal(tokens.verifyAccess(token));

    assert.equal(error.code, "expired");
  });
});

Deno.test("recallAccess() knows only tokens verified before and not yet expired", async (t) => {
  const { tokens, clock } = await setUp();
  const token = await tokens.signAccess("alice", "session-1");
  const expMs = START + ACCESS_TTL_MS;

  await t.step("a token never verified", () => {
    assert.equal(tokens.recallAccess(token), undefined);
  });

  await t.step("the same token once verified", async () => {
    const claims = await tokens.verifyAccess(token);

    assert.deepEqual(tokens.recallAccess(token), claims);
  });

  await t.step("a variant of its text", () => {
    assert.equal(tokens.recallAccess(`${token}x`), undefined);
  });

  await t.step("one millisecond before exp", () => {
    clock.set(expMs - 1);

    assert.equal(tokens.recallAccess(token)?.sub, "alice");
  });

  await t.step("exactly at exp", async () => {
    clock.set(expMs);

    assert.equal(tokens.recallAccess(token), undefined);
    assert.equal((await refusal(tokens.verifyAccess(token))).code, "expired");
  });
});

Deno.test("verifyRefresh() accepts a token until its exp and not from then on", async (t) => {
  const { tokens, clock } = await setUp();
  const claims = refreshClaims();
  const token = await tokens.signRefresh(claims);

  await t.step("one second before exp", async () => {
    clock.set(claims.exp * 1000 - 1000);

    assert.deepEqual(await tokens.verifyRefresh(token), claims);
  });

  await t.step("exactly at exp", async () => {
    clock.set(claims.exp * 1000);

    const error = await refusal(tokens.verifyRefresh(token));

    assert.equal(error.code, "expired");
    assert.equal(error.message, "Token expired");
  });

  await t.step("one second after exp", async () => {
    clock.set(claims.exp * 1000 + 1000);

    assert.equal((await refusal(tokens.verifyRefresh(token))).code, "expired");
  });
});

Deno.test("signRefresh() gives the same token for the same claims", async () => {
  const { tokens, clock } = await setUp();
  const claims = refreshClaims({ gen: 3 });

  const first = await tokens.signRefresh(claims);
  clock.advance(5000);
  const second = await tokens.signRefresh(claims);

  assert.equal(first, second);
  assert.notEqual(await tokens.signRefresh({ ...claims, gen: 4 }), first);
  assert.equal(decodePart(first.split(".")[1]).token_use, "refresh");
});

Deno.test("createTokens() never takes one kind of token for the other", async (t) => {
  const { tokens } = await setUp();

  await t.step("an access token offered as a refresh token", async () => {
    const access = await tokens.signAccess("alice", "session-1");

    const error = await refusal(tokens.verifyRefresh(access));

    assert.equal(error.code, "invalid");
    assert.equal(error.message, "Token is not a refresh token");
  });

  await t.step("a refresh token offered as an access token", async () => {
    const refresh = await tokens.signRefresh(refreshClaims());

    const error = await refusal(tokens.verifyAccess(refresh));

    assert.equal(error.code, "invalid");
    assert.match(error.message, /^Token is not an? access token$/);
  });

  await t.step("a token without token_use", async () => {
    const token = await forge(
      { alg: "HS256" },
      accessPayload({ token_use: undefined }),
    );

    assert.equal((await refusal(tokens.verifyAccess(token))).code, "invalid");
  });
});

Deno.test("createTokens() accepts only HS256 signed with its own secret", async (t) => {
  const { tokens } = await setUp();

  await t.step(
    "a hand-made HS256 token with its secret is accepted",
    async () => {
      const token = await forge({ alg: "HS256", typ: "JWT" }, accessPayload());

      assert.equal((await tokens.verifyAccess(token)).sub, "alice");
    },
  );

  await t.step('alg "none", without a signature or with one', async () => {
    const [header, payload] = (await forge(
      { alg: "none", typ: "JWT" },
      accessPayload(),
    )).split(".");

    const bare = await refusal(tokens.verifyAccess(`${header}.${payload}.`));
    const signed = await refusal(
      tokens.verifyAccess(`${header}.${payload}.AAAA`),
    );

    assert.equal(bare.code, "invalid");
    assert.equal(bare.message, "Token is malformed");
    assert.equal(signed.code, "invalid");
    assert.equal(signed.message, "Token refused: ERR_JOSE_ALG_NOT_ALLOWED");
  });

  await t.step('alg "none" carrying an HS256 signature', async () => {
    const token = await forge({ alg: "none" }, accessPayload());

    const error = await refusal(tokens.verifyAccess(token));

    assert.equal(error.message, "Token refused: ERR_JOSE_ALG_NOT_ALLOWED");
  });

  await t.step("HS512 with the same secret", async () => {
    const token = await forge({ alg: "HS512" }, accessPayload(), {
      hash: "SHA-512",
    });

    const error = await refusal(tokens.verifyAccess(token));

    assert.equal(error.code, "invalid");
    assert.equal(error.message, "Token refused: ERR_JOSE_ALG_NOT_ALLOWED");
  });

  await t.step("HS256 with another secret", async () => {
    const token = await forge({ alg: "HS256" }, accessPayload(), {
      secret: OTHER_SECRET,
    });

    const error = await refusal(tokens.verifyAccess(token));

    assert.equal(error.code, "invalid");
    assert.equal(
      error.message,
      "Token refused: ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
    );
  });

  await t.step("a refresh token from another service's secret", async () => {
    const clock = new FakeClock(START);
    const other = await createTokens(OTHER_SECRET, { clock, accessTtlMs: 1 });
    const token = await other.signRefresh(refreshClaims());

    const error = await refusal(tokens.verifyRefresh(token));

    assert.equal(
      error.message,
      "Token refused: ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
    );
  });
});

Deno.test("createTokens() refuses a token whose payload was changed", async (t) => {
  const { tokens } = await setUp();

  await t.step("another subject", async () => {
    const [header, payload, signature] = (await tokens.signAccess(
      "alice",
      "session-1",
    )).split(".");
    const claims = { ...decodePart(payload), sub: "mallory" };
    const tampered = `${header}.${
      base64url(JSON.stringify(claims))
    }.${signature}`;

    const error = await refusal(tokens.verifyAccess(tampered));

    assert.equal(error.code, "invalid");
    assert.equal(
      error.message,
      "Token refused: ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
    );
  });

  await t.step("a later exp on an expired token", async () => {
    const [header, payload, signature] = (await tokens.signRefresh(
      refreshClaims({ exp: START / 1000 }),
    )).split(".");
    const claims = { ...decodePart(payload), exp: START / 1000 + 3600 };
    const tampered = `${header}.${
      base64url(JSON.stringify(claims))
    }.${signature}`;

    const error = await refusal(tokens.verifyRefresh(tampered));

    assert.equal(error.code, "invalid");
  });
});

Deno.test("createTokens() refuses a token missing a claim it needs", async (t) => {
  const { tokens } = await setUp();

  for (const claim of ["sub", "jti", "iat", "exp"]) {
    await t.step(`without ${claim}`, async () => {
      const token = await forge(
        { alg: "HS256" },
        accessPayload({ [claim]: undefined }),
      );

      const error = await refusal(tokens.verifyAccess(token));

      assert.equal(error.code, "invalid");
      assert.equal(
        error.message,
        "Token refused: ERR_JWT_CLAIM_VALIDATION_FAILED",
      );
    });
  }

  await t.step("without sid", async () => {
    const token = await forge(
      { alg: "HS256" },
      accessPayload({ sid: undefined }),
    );

    const error = await refusal(tokens.verifyAccess(token));

    assert.match(error.message, /^Token is not an? access token$/);
  });

  await t.step("a refresh token without gen", async () => {
    const token = await forge(
      { alg: "HS256" },
      accessPayload({ token_use: "refresh", exp: START / 1000 + 3600 }),
    );

    const error = await refusal(tokens.verifyRefresh(token));

    assert.equal(error.code, "invalid");
    assert.equal(error.message, "Refresh token has no generation");
  });

  await t.step("a refresh token whose gen is not an integer", async () => {
    const token = await forge(
      { alg: "HS256" },
      accessPayload({ token_use: "refresh", gen: "0" }),
    );

    const error = await refusal(tokens.verifyRefresh(token));

    assert.equal(error.message, "Refresh token has no generation");
  });
});

Deno.test("createTokens() refuses text that is not a JWT", async (t) => {
  const { tokens } = await setUp();

  for (const text of ["", "abc", "a.b.c", "a.b", "...."]) {
    await t.step(JSON.stringify(text), async () => {
      const error = await refusal(tokens.verifyAccess(text));

      assert.equal(error.code, "invalid");
      assert.equal(error.message, "Token is malformed");
    });
  }
});

Deno.test("createTokens() accepts a token only as it was written", async (t) => {
  const { tokens } = await setUp();
  const token = await tokens.signAccess("alice", "session-1");
  const [header, payload, signature = ""] = token.split(".");
  // The last of 43 characters carries 2 bits of the signature and 4 spare
  // ones: flipping a spare bit gives the same bytes in other text.
  const last = signature.at(-1) ?? "";
  const alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const spare = alphabet[alphabet.indexOf(last) ^ 1] ?? "";
  const variants = {
    "a spare bit set in the signature": `${header}.${payload}.${
      signature.slice(0, -1)
    }${spare}`,
    'a trailing "="': `${token}=`,
    "padding inside a part": `${header}=.${payload}.${signature}`,
  };

  for (const [name, variant] of Object.entries(variants)) {
    await t.step(name, async () => {
      const error = await refusal(tokens.verifyAccess(variant));

      assert.equal(error.code, "invalid");
      assert.equal(error.message, "Token is malformed");
    });
  }

  await t.step("the token as written", async () => {
    assert.equal((await tokens.verifyAccess(token)).sub, "alice");
  });
});
