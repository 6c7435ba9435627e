/**
 * The docs page in a real headless Chromium: it renders every route,
 * "Try it out" reaches the service, a pasted token authorizes calls, and
 * nothing breaks the Content-Security-Policy or leaves the origin.
 *
 * The name does not end in `_test.ts`, so `deno test` runs this file only
 * when given it, as `deno task test:browser` does: it needs Chromium and
 * the permissions to start it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "playwright-core";
import { openTestService, signUpAndLogIn } from "../_helpers.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = "tests/artifacts";

// Collected in the page before its own scripts run.
const WATCH_CSP = `window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) =>
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI));`;

async function launchChromium(): Promise<Browser> {
  try {
    await Deno.stat(CHROMIUM);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new Error(
      `Chromium is missing at ${CHROMIUM}: install it with ` +
        "`apt-get update && apt-get install -y chromium`",
    );
  }
  return await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

async function tryOut(page: Page, operationId: string): Promise<string> {
  const block = page.locator(`#operations-default-${operationId}`);
  await block.locator(".opblock-summary").click();
  await block.getByRole("button", { name: "Try it out" }).click();
  await block.getByRole("button", { name: "Execute" }).click();
  const body = block.locator(
    ".live-responses-table .response-col_description pre.microlight",
  ).first();
  await body.waitFor();
  return await body.innerText();
}

Deno.test("GET /docs works in headless Chromium under its CSP", async (t) => {
  await using service = await openTestService();
  const { username, tokens } = await signUpAndLogIn(service);
  const doc = await (await service.fetch("/openapi.json")).json();
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    service.handler,
  );
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const elsewhere: string[] = [];
    const refusals: string[] = [];
    page.on("request", (request) => {
      if (new URL(request.url()).origin !== origin) {
        elsewhere.push(request.url());
      }
    });
    page.on("console", (message) => {
      if (/Content.Security.Policy|Refused to/i.test(message.text())) {
        refusals.push(message.text());
      }
    });
    await page.addInitScript(WATCH_CSP);

    await t.step("answers the page with its CSP", async () => {
      const response = await page.goto(`${origin}/docs`);
      assert.equal(response?.status(), 200);
      const csp = response?.headers()["content-security-policy"] ?? "";
      assert.match(csp, /default-src 'none'/);
    });

    await t.step("lists every operation of the document", async () => {
      const expected = Object.values(doc.paths as Record<string, object>)
        .reduce((sum, item) => sum + Object.keys(item).length, 0);
      await page.locator(".opblock").first().waitFor();
      assert.equal(await page.locator(".opblock").count(), expected);
      const paths = await page.locator(".opblock-summary-path")
        .allInnerTexts();
      for (const path of Object.keys(doc.paths)) {
        assert.ok(paths.some((text) => text.includes(path)), path);
      }
    });

    await t.step("tries GET /notsecret from the page", async () => {
      assert.match(await tryOut(page, "get_notsecret"), /Not secret data/);
    });

    await t.step("authorizes with a pasted access token", async () => {
      await page.locator(".auth-wrapper button.authorize").click();
      const scheme = page.locator(".auth-container", {
        hasText: "accessToken",
      });
      await scheme.locator("input").fill(tokens.access_token);
      await scheme.getByRole("button", { name: "Apply credentials" }).click();
      await scheme.getByRole("button", { name: "Remove authorization" })
        .waitFor();
      await page.locator(".modal-ux .close-modal").click();
      assert.match(await tryOut(page, "get_me"), new RegExp(username));
    });

    await t.step("breaks no CSP rule and stays on its origin", async () => {
      await Deno.mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: `${ARTIFACTS}/docs.png`, fullPage: true });
      const violations = await page.evaluate("window.__cspViolations");
      assert.deepEqual(violations, []);
      assert.deepEqual(refusals, []);
      assert.deepEqual(elsewhere, []);
    });
  } finally {
    await browser.close();
  }
});
