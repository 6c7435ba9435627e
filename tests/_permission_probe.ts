/**
 * Run by `main_test.ts` under the service's own permission set (`deno run
 * -P`, nothing added): attempts what the service must never be able to do,
 * and a few things it needs, and prints one JSON line per attempt,
 * `{ "probe", "outcome" }`. The outcome is `denied` for
 * `Deno.errors.NotCapable`, `allowed` if it worked, or the other error's
 * name.
 *
 * @module
 */

const encoder = new TextEncoder();

async function closing(opened: Promise<{ close(): void }>): Promise<void> {
  (await opened).close();
}

async function removing(path: string, write: Promise<unknown>) {
  await write;
  await Deno.remove(path);
}

const PROBES: Record<string, () => unknown> = {
  "read deno.json": () => Deno.readTextFile("deno.json"),
  "read /etc/hostname": () => Deno.readTextFile("/etc/hostname"),
  "read ./data/../deno.json": () => Deno.readTextFile("./data/../deno.json"),
  "env HOME": () => Deno.env.get("HOME"),
  "env all": () => Deno.env.toObject(),
  "run true": () => new Deno.Command("true").output(),
  "sys hostname": () => Deno.hostname(),
  "fetch http://example.invalid/": () =>
    fetch("http://example.invalid/").then((response) =>
      response.body?.cancel()
    ),
  "connect probe.invalid:80": () =>
    closing(Deno.connect({ hostname: "probe.invalid", port: 80 })),
  "listen 0.0.0.0:8000": () =>
    Deno.listen({ hostname: "0.0.0.0", port: 8000 }).close(),
  "write ./probe.txt": () =>
    removing("./probe.txt", Deno.writeTextFile("./probe.txt", "x")),
  "write ./data/../probe.txt": () =>
    removing(
      "./probe.txt",
      Deno.writeTextFile("./data/../probe.txt", "x"),
    ),
  "write a temporary file": () =>
    Deno.makeTempFile().then((path) => Deno.remove(path)),
  // What the service needs, so a set that failed to load and denies
  // everything cannot pass for a narrow one.
  "env PORT": () => Deno.env.get("PORT"),
  "read ./src/passwords.ts": () => Deno.readTextFile("./src/passwords.ts"),
  "sys setPriority": () =>
    Deno.permissions.query({ name: "sys", kind: "setPriority" })
      .then(({ state }) => {
        if (state !== "granted") throw new Deno.errors.NotCapable(state);
      }),
  "write in ./data": () =>
    Deno.makeTempFile({ dir: "./data" }).then((path) => Deno.remove(path)),
};

for (const [probe, attempt] of Object.entries(PROBES)) {
  let outcome = "allowed";
  try {
    await attempt();
  } catch (error) {
    outcome = error instanceof Deno.errors.NotCapable
      ? "denied"
      : error instanceof Error
      ? error.name
      : String(error);
  }
  const line = JSON.stringify({ probe, outcome });
  Deno.stdout.writeSync(encoder.encode(`${line}\n`));
}
