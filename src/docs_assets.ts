/**
 * The files of the docs page: swagger-ui from the `swagger-ui-dist`
 * package, a start script and the HTML that loads them. The package's
 * files come in as text imports, so they are part of the module graph:
 * read once when the module loads, with no read permission and no network.
 *
 * @module
 */
import css from "swagger-ui-dist/swagger-ui.css" with { type: "text" };
import bundle from "swagger-ui-dist/swagger-ui-bundle.js" with {
  type: "text",
};

/** A file of the docs page, ready to send. */
export interface DocsFile {
  body: Uint8Array<ArrayBuffer>;
  contentType: string;
}

/**
 * The Content-Security-Policy of the page and its files: everything from
 * the service itself, no inline script or style, nothing from elsewhere.
 * swagger-ui's stylesheet draws its icons as `data:` images.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

// validatorUrl null: swagger-ui would otherwise send the document to
// validator.swagger.io. Authorization is not persisted, so a pasted token
// lives only as long as the page.
const INIT = `window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  validatorUrl: null,
  persistAuthorization: false,
});
`;

const encoder = new TextEncoder();
const JS = "text/javascript; charset=utf-8";

/** The page's static files, by their name under `/docs/`. */
export const DOCS_FILES: ReadonlyMap<string, DocsFile> = new Map([
  ["swagger-ui.css", {
    body: encoder.encode(withoutSourceMap(css)),
    contentType: "text/css; charset=utf-8",
  }],
  ["swagger-ui-bundle.js", {
    body: encoder.encode(withoutSourceMap(bundle)),
    contentType: JS,
  }],
  ["init.js", { body: encoder.encode(INIT), contentType: JS }],
]);

/** The HTML of the docs page, titled `title`. */
export function docsPage(title: string): DocsFile {
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;
  return {
    body: encoder.encode(html),
    contentType: "text/html; charset=utf-8",
  };
}

// The source maps are not served, so the pointers to them would only
// produce 404s in a browser's developer tools.
function withoutSourceMap(text: string): string {
  return text.replace(
    /\n?(\/\/# sourceMappingURL=.*|\/\*# sourceMappingURL=.*\*\/)\s*$/,
    "",
  );
}

function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;");
}
