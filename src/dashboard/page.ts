/**
 * The dashboard's HTML: an empty shell that loads the page's script and style from this server. It
 * holds no data (the script fetches it and builds the DOM with textContent) and no inline script,
 * which the Content-Security-Policy forbids anyway.
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>tsbeat</title>
<link rel="stylesheet" href="/ui/app.css">
<script type="module" src="/ui/app.js"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="#/">tsbeat</a>
  <nav aria-label="Sections">
    <a href="#/">Entries</a>
    <a href="#/timeline">Timeline</a>
    <a href="#/audit">Audit</a>
    <a href="#/dead-letters">Dead letters</a>
    <a href="#/plan">Plan</a>
    <a href="#/deployment">Deployment</a>
  </nav>
  <div id="session" class="session"></div>
</header>
<div id="stop"></div>
<div id="banner" role="status" aria-live="polite"></div>
<main id="main" tabindex="-1"><noscript>This page needs JavaScript; the same data is at /status.</noscript></main>
</body>
</html>
`;
