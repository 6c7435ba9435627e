/**
 * Makes sure Debian's Chromium is there for the browser test: as root on a
 * machine with apt-get it installs the package, elsewhere it says how.
 *
 * @module
 */
const CHROMIUM = "/usr/bin/chromium";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function aptGet(args: string[]): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("apt-get", {
      args,
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdout: "null",
      stderr: "inherit",
    }).output();
    return success;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function say(message: string): void {
  // deno-lint-ignore no-console -- a setup step tells the developer what it does.
  console.error(message);
}

if (!await exists(CHROMIUM)) {
  say("Chromium is missing: installing Debian's chromium package");
  const installed = Deno.uid?.() === 0 &&
    await aptGet(["update", "-qq"]) &&
    await aptGet(["install", "-y", "-qq", "chromium"]);
  if (!installed || !await exists(CHROMIUM)) {
    say(
      `The browser test needs Chromium at ${CHROMIUM}: ` +
        "run `apt-get install chromium` as root (Debian, Ubuntu)",
    );
    Deno.exit(1);
  }
}
