// HTML of the dashboard's pages: small server-rendered shells (the header,
// the page's subject as data attributes), filled by the client script from
// the JSON API. Every user-provided string goes through `escapeHtml`.

/**
 * Escapes text for HTML element content and quoted attribute values:
 * `&`, `<`, `>`, `"` and `'`.
 *
 * @param text Any text (run names, tags, ...).
 * @returns Text that renders as itself.
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

const ENTITIES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** What a page shell shows before its script runs. */
export interface PageShell {
  /** Which page: `runs`, `run`, `compare`, `artifacts` or `error`. */
  page: "runs" | "run" | "compare" | "artifacts" | "error";
  /** The window title (escaped here). */
  title: string;
  /** The main heading (escaped here). */
  heading: string;
  /** A line under the heading (escaped here). */
  subtitle?: string;
  /** `data-*` attributes of `<body>`, read by the script (escaped here). */
  data?: Record<string, string>;
  /** The store folder, shown in the footer (escaped here). */
  dir: string;
  /** The client's polling period, in milliseconds. */
  pollMs: number;
}

/**
 * Renders a page: the shell, the stylesheet and the script served by the
 * app (no CDN, nothing inline, so a strict Content-Security-Policy holds).
 *
 * @param shell What to show.
 * @returns The HTML document.
 */
export function renderPage(shell: PageShell): string {
  const data = Object.entries({
    page: shell.page,
    "poll-ms": String(shell.pollMs),
    ...shell.data,
  }).map(([key, value]) => ` data-${key}="${escapeHtml(value)}"`).join("");
  const subtitle = shell.subtitle === undefined
    ? ""
    : `<p class="subtitle" id="subtitle">${escapeHtml(shell.subtitle)}</p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(shell.title)} · uetai</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/dashboard.css">
<script src="/static/dashboard.js" defer></script>
</head>
<body${data}>
<header class="top">
<a class="brand" href="/">uetai</a>
<nav><a href="/">Runs</a></nav>
<span class="live" id="live" title="Updates every ${
    shell.pollMs / 1000
  } s">connecting…</span>
</header>
<main id="main">
<section class="head" id="head">
<h1 id="title">${escapeHtml(shell.heading)}</h1>
${subtitle}
</section>
<noscript><p class="error">This dashboard needs JavaScript (served by this app; nothing is fetched from elsewhere).</p></noscript>
</main>
<footer class="foot">local dashboard · reading <code>${
    escapeHtml(shell.dir)
  }</code></footer>
</body>
</html>
`;
}
