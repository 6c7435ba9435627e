import assert from "node:assert/strict";
import { parseDuration } from "../src/duration.ts";

Deno.test("parseDuration() converts each unit to milliseconds", () => {
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("45s"), 45_000);
  assert.equal(parseDuration("30m"), 1_800_000);
  assert.equal(parseDuration("10h"), 36_000_000);
  assert.equal(parseDuration("2d"), 172_800_000);
});

Deno.test("parseDuration() reads a bare number as seconds", () => {
  assert.equal(parseDuration("90"), 90_000);
  assert.equal(parseDuration("0"), 0);
});

Deno.test("parseDuration() ignores white space around the value", () => {
  assert.equal(parseDuration("  10s\n"), 10_000);
});

Deno.test("parseDuration() answers undefined for anything else", async (t) => {
  const cases = [
    "",
    "s",
    "1.5h",
    "-5m",
    "+5m",
    "10 m",
    "10M",
    "10S",
    "1w",
    "1h30m",
    "1e3",
    "thirty",
  ];
  for (const text of cases) {
    await t.step(JSON.stringify(text), () => {
      assert.equal(parseDuration(text), undefined);
    });
  }
});
