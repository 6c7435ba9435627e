import assert from "node:assert/strict";
import { z } from "zod";
import {
  MAX_BODY_BYTES,
  mediaType,
  readBodyText,
  readJson,
  readJsonOrForm,
  validate,
} from "../src/body.ts";
import { HttpError } from "../src/http_error.ts";
import { problemResponse } from "../src/problem.ts";

const LOGIN = z.object({ username: z.string(), password: z.string() });

function post(body: BodyInit | null, contentType?: string): Request {
  const headers = new Headers();
  if (contentType) headers.set("content-type", contentType);
  return new Request("http://localhost/login", {
    method: "POST",
    headers,
    body,
  });
}

async function refusal(promise: Promise<unknown>): Promise<HttpError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof HttpError, `not an HttpError: ${error}`);
    return error;
  }
  assert.fail("the body was accepted");
}

function refusalOf(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof HttpError, `not an HttpError: ${error}`);
    return error;
  }
  assert.fail("the value was accepted");
}

// A body that arrives in chunks with no Content-Length, and tells how much
// of it was pulled and whether the reader gave up on it.
function chunkedBody(chunkBytes: number, chunks: number) {
  const state = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.pulled === chunks) return controller.close();
      state.pulled++;
      controller.enqueue(new Uint8Array(chunkBytes).fill(0x61));
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { stream, state };
}

// A body that sends some text (perhaps none) and then neither sends more
// nor ends, and tells whether the reader gave up on it.
function stalledBody(text = '{"a":1') {
  const state = { cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      if (text) controller.enqueue(new TextEncoder().encode(text));
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { stream, state };
}

Deno.test("mediaType() gives the lower-case type without parameters", () => {
  assert.equal(
    mediaType(post("{}", "Application/JSON; charset=UTF-8")),
    "application/json",
  );
  assert.equal(mediaType(post("{}")), "text/plain");
  assert.equal(mediaType(post(null)), "");
});

Deno.test("readBodyText() answers 413 for a body over 16 KiB", async (t) => {
  await t.step(
    "a declared Content-Length over the limit, before reading",
    async () => {
      const request = new Request("http://localhost/login", {
        method: "POST",
        headers: { "content-length": String(MAX_BODY_BYTES + 1) },
        body: "{}",
      });

      const error = await refusal(readBodyText(request));

      assert.equal(error.status, 413);
      assert.equal(error.detail, "Request body is larger than 16 KiB");
      assert.equal(error.headers.get("connection"), "close");
      assert.equal(request.bodyUsed, false);
    },
  );

  await t.step(
    "a streamed body without a length, stopped once too large",
    async () => {
      const { stream, state } = chunkedBody(4096, 100);

      const error = await refusal(readBodyText(post(stream)));

      assert.equal(error.status, 413);
      assert.equal(error.detail, "Request body is larger than 16 KiB");
      assert.equal(error.headers.get("connection"), "close");
      assert.ok(state.pulled <= 6, `read ${state.pulled} chunks of 4 KiB`);
      assert.equal(state.cancelled, true);
    },
  );

  await t.step("a plain body one byte over the limit", async () => {
    const error = await refusal(
      readBodyText(post("a".repeat(MAX_BODY_BYTES + 1))),
    );

    assert.equal(error.status, 413);
  });
});

Deno.test("readBodyText() reads a body of exactly 16 KiB", async (t) => {
  await t.step("sent whole", async () => {
    const text = await readBodyText(post("a".repeat(MAX_BODY_BYTES)));

    assert.equal(text.length, MAX_BODY_BYTES);
  });

  await t.step("streamed in chunks", async () => {
    const { stream } = chunkedBody(1024, 16);

    const text = await readBodyText(post(stream));

    assert.equal(text, "a".repeat(MAX_BODY_BYTES));
  });
});

Deno.test("readBodyText() reads UTF-8 split across chunks and an absent body", async () => {
  const bytes = new TextEncoder().encode("Zoë 🦕");
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const byte of bytes) controller.enqueue(Uint8Array.of(byte));
      controller.close();
    },
  });

  assert.equal(await readBodyText(post(stream)), "Zoë 🦕");
  assert.equal(await readBodyText(post(null)), "");
});

Deno.test("readJson() answers 415 without a JSON content type", async (t) => {
  const cases: [string, string | undefined][] = [
    ["text/plain", "text/plain;charset=UTF-8"],
    ["a form", "application/x-www-form-urlencoded"],
    ["none at all", undefined],
    ["a look-alike", "application/jsonp"],
  ];
  for (const [name, type] of cases) {
    await t.step(name, async () => {
      const request = new Request("http://localhost/login", {
        method: "POST",
        body: JSON.stringify({ username: "a", password: "b" }),
      });
      if (type) request.headers.set("content-type", type);
      else request.headers.delete("content-type");

      const error = await refusal(readJson(request, LOGIN));

      assert.equal(error.status, 415);
      assert.equal(error.detail, "Request body must be application/json");
      assert.equal(error.headers.get("connection"), "close");
    });
  }
});

Deno.test("readJson() accepts JSON content types with parameters and suffixes", async () => {
  const body = JSON.stringify({ username: "alice", password: "pw" });

  for (
    const type of [
      "application/json",
      "application/json; charset=utf-8",
      "APPLICATION/JSON",
      "application/merge-patch+json",
    ]
  ) {
    assert.deepEqual(await readJson(post(body, type), LOGIN), {
      username: "alice",
      password: "pw",
    }, type);
  }
});

Deno.test("readJson() answers 400 for malformed JSON", async (t) => {
  for (const text of ["{", "", "{'username': 'a'}", "undefined"]) {
    await t.step(JSON.stringify(text), async () => {
      const error = await refusal(
        readJson(post(text, "application/json"), LOGIN),
      );

      assert.equal(error.status, 400);
      assert.equal(error.detail, "Request body is not valid JSON");
      assert.equal(error.errors, undefined);
    });
  }
});

Deno.test("readJson() answers 400 for a body that is not UTF-8", async () => {
  const bytes = Uint8Array.of(0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d);

  const error = await refusal(
    readJson(post(bytes, "application/json"), LOGIN),
  );

  assert.equal(error.status, 400);
  assert.equal(error.detail, "Request body could not be read");
  assert.ok(error.cause instanceof TypeError);
});

Deno.test("readJson() answers 413 before checking the JSON", async () => {
  const text = JSON.stringify({ username: "a".repeat(MAX_BODY_BYTES) });

  const error = await refusal(readJson(post(text, "application/json"), LOGIN));

  assert.equal(error.status, 413);
});

Deno.test("readJson() answers 422 naming each invalid field", async (t) => {
  async function fieldErrors(value: unknown) {
    const request = post(JSON.stringify(value), "application/json");
    const error = await refusal(readJson(request, LOGIN));
    assert.equal(error.status, 422);
    assert.equal(error.detail, "Request body is invalid");
    return error.errors;
  }

  await t.step("missing fields are required", async () => {
    assert.deepEqual(await fieldErrors({}), [
      { field: "username", message: "is required" },
      { field: "password", message: "is required" },
    ]);
  });

  await t.step("a field of the wrong type", async () => {
    assert.deepEqual(await fieldErrors({ username: 42, password: "pw" }), [
      { field: "username", message: "must be a string" },
    ]);
  });

  await t.step("null is not a string", async () => {
    assert.deepEqual(await fieldErrors({ username: "a", password: null }), [
      { field: "password", message: "must be a string" },
    ]);
  });

  await t.step("a body that is not an object", async () => {
    for (const value of [null, [], "alice", 7]) {
      assert.deepEqual(await fieldErrors(value), [
        { field: "body", message: "must be a JSON object" },
      ], JSON.stringify(value));
    }
  });
});

Deno.test("readJson() ignores unknown fields", async () => {
  const body =
    '{"username":"alice","password":"pw","admin":true,"__proto__":{"x":1}}';

  const value = await readJson(post(body, "application/json"), LOGIN);

  assert.deepEqual(value, { username: "alice", password: "pw" });
  assert.equal(Object.hasOwn(value, "admin"), false);
  assert.equal(Object.hasOwn(value, "__proto__"), false);
});

Deno.test("validate() keeps a schema's own messages and names nested fields", () => {
  const schema = z.object({
    profile: z.object({ name: z.string().min(1, "must not be empty") }),
    age: z.number(),
  });

  const error = refusalOf(() =>
    validate({ profile: { name: "" }, age: "7" }, schema)
  );

  assert.equal(error.status, 422);
  assert.deepEqual(error.errors, [
    { field: "profile.name", message: "must not be empty" },
    { field: "age", message: "must be a number" },
  ]);
  assert.deepEqual(validate({ profile: { name: "a" }, age: 7 }, schema), {
    profile: { name: "a" },
    age: 7,
  });
});

Deno.test("readJsonOrForm() reads form-encoded and JSON bodies", async (t) => {
  const expected = { username: "alice", password: "p&ss w=rd" };

  await t.step("form-encoded", async () => {
    const form = new URLSearchParams(expected).toString();
    const request = post(form, "application/x-www-form-urlencoded");

    assert.deepEqual(await readJsonOrForm(request, LOGIN), expected);
  });

  await t.step("form-encoded with a charset parameter", async () => {
    const form = "username=alice&password=p%26ss+w%3Drd&extra=1";
    const type = "application/x-www-form-urlencoded; charset=UTF-8";

    assert.deepEqual(await readJsonOrForm(post(form, type), LOGIN), expected);
  });

  await t.step("JSON", async () => {
    const request = post(JSON.stringify(expected), "application/json");

    assert.deepEqual(await readJsonOrForm(request, LOGIN), expected);
  });
});

Deno.test("readJsonOrForm() refuses what readJson() refuses", async (t) => {
  await t.step("415 for another content type", async () => {
    const error = await refusal(
      readJsonOrForm(post("username=a", "text/plain"), LOGIN),
    );

    assert.equal(error.status, 415);
    assert.equal(
      error.detail,
      "Request body must be application/json or application/x-www-form-urlencoded",
    );
  });

  await t.step("422 for a form missing a field", async () => {
    const request = post("username=alice", "application/x-www-form-urlencoded");

    const error = await refusal(readJsonOrForm(request, LOGIN));

    assert.equal(error.status, 422);
    assert.deepEqual(error.errors, [
      { field: "password", message: "is required" },
    ]);
  });

  await t.step("413 for a form over the limit", async () => {
    const form = `username=${"a".repeat(MAX_BODY_BYTES)}`;
    const request = post(form, "application/x-www-form-urlencoded");

    const error = await refusal(readJsonOrForm(request, LOGIN));

    assert.equal(error.status, 413);
  });

  await t.step("400 for malformed JSON", async () => {
    const error = await refusal(
      readJsonOrForm(post("{", "application/json"), LOGIN),
    );

    assert.equal(error.status, 400);
    assert.equal(error.detail, "Request body is not valid JSON");
  });
});

Deno.test("readJsonOrForm() answers 400 for a form parameter given twice", async (t) => {
  const cases: [string, string, string][] = [
    ["the last of three", "username=a&password=b&password=c", "password"],
    ["the first", "username=a&username=b&password=c", "username"],
    ["one the schema does not know", "username=a&password=b&x=1&x=2", "x"],
    ["an empty value", "username=a&password=b&password=", "password"],
    [
      "a name spelt with escapes",
      "username=a&password=b&pass%77ord=c",
      "password",
    ],
  ];
  for (const [name, form, repeated] of cases) {
    await t.step(name, async () => {
      const request = post(form, "application/x-www-form-urlencoded");

      const error = await refusal(readJsonOrForm(request, LOGIN));

      assert.equal(error.status, 400);
      assert.equal(error.detail, `Request body repeats "${repeated}"`);
    });
  }
});

Deno.test("readBodyText() answers 408 for a body that does not arrive in time", async (t) => {
  await t.step("a body that stops after a few bytes", async () => {
    const { stream, state } = stalledBody();

    const error = await refusal(readBodyText(post(stream), { timeoutMs: 5 }));

    assert.equal(error.status, 408);
    assert.equal(error.detail, "Request body was not received in time");
    assert.equal(error.headers.get("connection"), "close");
    assert.equal(state.cancelled, true);
  });

  await t.step("a body that never sends a byte", async () => {
    const { stream, state } = stalledBody("");

    const error = await refusal(readBodyText(post(stream), { timeoutMs: 5 }));

    assert.equal(error.status, 408);
    assert.equal(state.cancelled, true);
  });

  await t.step("through readJson() and readJsonOrForm()", async () => {
    const json = stalledBody();
    const form = stalledBody("username=a");

    const jsonError = await refusal(
      readJson(post(json.stream, "application/json"), LOGIN, { timeoutMs: 5 }),
    );
    const formError = await refusal(
      readJsonOrForm(
        post(form.stream, "application/x-www-form-urlencoded"),
        LOGIN,
        { timeoutMs: 5 },
      ),
    );

    assert.equal(jsonError.status, 408);
    assert.equal(formError.status, 408);
    assert.equal(json.state.cancelled, true);
    assert.equal(form.state.cancelled, true);
  });
});

Deno.test("readBodyText() reads a body that arrives before the deadline", async () => {
  // The deadline's timer must be cleared, or the test's sanitizer fails.
  const { stream } = chunkedBody(1024, 4);

  const text = await readBodyText(post(stream), { timeoutMs: 60_000 });

  assert.equal(text, "a".repeat(4096));
});

Deno.test("readBodyText() answers 408 over real HTTP to a client that stops sending", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      try {
        return new Response(await readBodyText(request, { timeoutMs: 50 }));
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        return problemResponse(error.status, error.detail, {
          headers: error.headers,
        });
      }
    },
  );
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addr.port,
  });
  try {
    const head = "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
      "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    await conn.write(new TextEncoder().encode(`${head}{"a":1`));

    const answer = await readAnswer(conn);

    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /\r\nconnection: close\r\n/i);
    assert.match(answer, /\r\ncontent-type: application\/problem\+json\r\n/i);
    assert.match(answer, /"detail":"Request body was not received in time"/);
  } finally {
    conn.close();
    await server.shutdown();
  }
});

// Reads from a socket until the answer's JSON body has arrived.
async function readAnswer(conn: Deno.Conn): Promise<string> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(4096);
  let answer = "";
  while (!answer.endsWith("}")) {
    const read = await conn.read(buffer);
    if (read === null) break;
    answer += decoder.decode(buffer.subarray(0, read), { stream: true });
  }
  return answer;
}
