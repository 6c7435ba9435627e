import assert from "node:assert/strict";
import { RecentSessions } from "../src/recent_sessions.ts";
import { FakeClock } from "./_helpers.ts";

Deno.test("RecentSessions trusts a session seen alive for the interval and no longer", async (t) => {
  const clock = new FakeClock();
  const recent = new RecentSessions({ clock, freshForMs: 1000 });

  await t.step("a session never seen", () => {
    assert.equal(recent.isFresh("s1"), false);
  });

  await t.step("seen alive, one millisecond before the interval ends", () => {
    recent.sawAlive("s1");
    clock.advance(999);

    assert.equal(recent.isFresh("s1"), true);
  });

  await t.step("exactly at the interval's end", () => {
    clock.advance(1);

    assert.equal(recent.isFresh("s1"), false);
  });

  await t.step("seen alive again", () => {
    recent.sawAlive("s1");

    assert.equal(recent.isFresh("s1"), true);
  });
});

Deno.test("RecentSessions never trusts a session again once it saw it end", () => {
  const clock = new FakeClock();
  const recent = new RecentSessions({ clock, freshForMs: 1000 });
  recent.sawAlive("s1");

  recent.sawEnd("s1");
  // A check that read the store before the end reports late.
  recent.sawAlive("s1");

  assert.equal(recent.isFresh("s1"), false);
});

Deno.test("RecentSessions forgets the oldest session beyond its capacity", () => {
  const clock = new FakeClock();
  const recent = new RecentSessions({ clock, freshForMs: 1000, capacity: 2 });

  recent.sawAlive("s1");
  recent.sawAlive("s2");
  recent.sawAlive("s3");

  assert.deepEqual(
    ["s1", "s2", "s3"].map((id) => recent.isFresh(id)),
    [false, true, true],
  );
});
