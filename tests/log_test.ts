import assert from "node:assert/strict";
import { createBatchedWriter, createLogger, silentLogger } from "../src/log.ts";

const NOW = Date.UTC(2026, 0, 1, 12, 30);

function capture(level?: "debug" | "info" | "warn" | "error") {
  const lines: string[] = [];
  const logger = createLogger({
    ...(level ? { level } : {}),
    write: (line) => lines.push(line),
    now: () => NOW,
  });
  return { logger, lines };
}

// Replaces console.log for the duration of `fn`, as the default output.
function capturingConsole(fn: () => void): unknown[][] {
  const printed: unknown[][] = [];
  const original = globalThis.console.log;
  globalThis.console.log = (...args: unknown[]) => printed.push(args);
  try {
    fn();
  } finally {
    globalThis.console.log = original;
  }
  return printed;
}

Deno.test("createLogger() writes one JSON object per line with time, level and message", () => {
  const { logger, lines } = capture();

  logger.info("request", { method: "GET", status: 200, ms: 1.5 });

  assert.equal(lines.length, 1);
  assert.equal(lines[0]?.includes("\n"), false);
  assert.deepEqual(JSON.parse(lines[0] ?? ""), {
    time: "2026-01-01T12:30:00.000Z",
    level: "info",
    msg: "request",
    method: "GET",
    status: 200,
    ms: 1.5,
  });
});

Deno.test("createLogger() stamps each line with the time it was written", () => {
  const lines: string[] = [];
  let now = Date.UTC(2026, 0, 1);
  const logger = createLogger({
    write: (line) => lines.push(line),
    now: () => now,
  });

  logger.info("first");
  logger.info("same millisecond");
  now += 1;
  logger.info("next millisecond");

  assert.deepEqual(lines.map((line) => JSON.parse(line).time), [
    "2026-01-01T00:00:00.000Z",
    "2026-01-01T00:00:00.000Z",
    "2026-01-01T00:00:00.001Z",
  ]);
});

Deno.test("createLogger() keeps its own keys first whatever the fields say", async (t) => {
  await t.step("fields named like the line's own keys", () => {
    const { logger, lines } = capture();

    logger.warn("real", {
      time: "forged",
      level: "debug",
      msg: "forged",
      x: 1,
    });

    assert.equal(
      lines[0],
      '{"time":"2026-01-01T12:30:00.000Z","level":"warn","msg":"real","x":1}',
    );
  });

  await t.step("no fields, or empty ones", () => {
    const { logger, lines } = capture();

    logger.info("a");
    logger.info("b", {});

    assert.deepEqual(lines, [
      '{"time":"2026-01-01T12:30:00.000Z","level":"info","msg":"a"}',
      '{"time":"2026-01-01T12:30:00.000Z","level":"info","msg":"b"}',
    ]);
  });

  await t.step("a message that needs escaping", () => {
    const { logger, lines } = capture();

    logger.error('say "hi"\n');

    assert.equal(JSON.parse(lines[0] ?? "").msg, 'say "hi"\n');
  });
});

Deno.test("createLogger() keeps a line on one line whatever the fields hold", () => {
  const { logger, lines } = capture();

  logger.error("Request failed", { error: "Error: boom\n    at x (y.ts:1:1)" });

  assert.equal(lines.length, 1);
  assert.equal(lines[0]?.includes("\n"), false);
  assert.equal(
    JSON.parse(lines[0] ?? "").error,
    "Error: boom\n    at x (y.ts:1:1)",
  );
});

Deno.test("createLogger() writes only lines at or above its level", async (t) => {
  const levels = ["debug", "info", "warn", "error"] as const;
  const expected: Record<string, string[]> = {
    debug: ["debug", "info", "warn", "error"],
    info: ["info", "warn", "error"],
    warn: ["warn", "error"],
    error: ["error"],
  };
  for (const level of levels) {
    await t.step(level, () => {
      const { logger, lines } = capture(level);

      for (const each of levels) logger[each](each);

      assert.deepEqual(
        lines.map((line) => JSON.parse(line).level),
        expected[level],
      );
    });
  }

  await t.step("info when no level is given", () => {
    const { logger, lines } = capture();

    logger.debug("hidden");
    logger.info("shown");

    assert.deepEqual(lines.map((line) => JSON.parse(line).msg), ["shown"]);
  });
});

function capturingStdout(): { writes: string[] } & Disposable {
  const writes: string[] = [];
  const original = Deno.stdout.writeSync;
  Deno.stdout.writeSync = (bytes: Uint8Array) => {
    writes.push(new TextDecoder().decode(bytes));
    return bytes.length;
  };
  return {
    writes,
    [Symbol.dispose]: () => {
      Deno.stdout.writeSync = original;
    },
  };
}

Deno.test("createLogger() writes to standard output in batches by default", async (t) => {
  await t.step("holds lines back until flushed", () => {
    using stdout = capturingStdout();
    const log = createLogger({ now: () => NOW });

    log.warn("Started", { port: 8000 });
    log.info("Listening");
    assert.deepEqual(stdout.writes, []);
    log.flush();

    assert.equal(stdout.writes.length, 1);
    const lines = (stdout.writes[0] ?? "").split("\n");
    assert.equal(lines.length, 3);
    assert.equal(lines[2], "");
    assert.deepEqual(JSON.parse(lines[0] ?? ""), {
      time: "2026-01-01T12:30:00.000Z",
      level: "warn",
      msg: "Started",
      port: 8000,
    });
  });

  await t.step("writes by itself once the batch is large", () => {
    using stdout = capturingStdout();
    const writer = createBatchedWriter({ maxBytes: 10 });

    writer.write("12345");
    assert.deepEqual(stdout.writes, []);
    writer.write("67890");

    assert.deepEqual(stdout.writes, ["12345\n67890\n"]);
  });

  await t.step("writes by itself after the delay", async () => {
    using stdout = capturingStdout();
    const writer = createBatchedWriter({ delayMs: 0 });

    writer.write("later");
    await new Promise((resolve) => setTimeout(resolve, 5));

    assert.deepEqual(stdout.writes, ["later\n"]);
  });
});

Deno.test("silentLogger writes nothing at any level", () => {
  const printed = capturingConsole(() => {
    silentLogger.debug("a");
    silentLogger.info("b");
    silentLogger.warn("c");
    silentLogger.error("d", { error: "boom" });
  });

  assert.deepEqual(printed, []);
});
