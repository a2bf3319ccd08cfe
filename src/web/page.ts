// The HTML shell of the upload page. Everything dynamic is rendered by /web/app.js (src/web/app.ts).
export function pageHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stowage — uploads</title>
<link rel="stylesheet" href="/web/app.css">
<script type="module" src="/web/app.js"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <h1>Stowage</h1>
  <p id="who" class="who" aria-live="polite"></p>
  <button type="button" id="change-token" class="link" hidden>Change token</button>
</header>
<main id="main">
  <section id="token-section" aria-labelledby="token-title" hidden>
    <h2 id="token-title">Connect to a workspace</h2>
    <p>Paste an API token (a JWT for your workspace). Locally, <code>npx stowage token --workspace dev</code> prints one.
       It is kept in this browser's local storage.</p>
    <form id="token-form">
      <label for="token-input">API token</label>
      <textarea id="token-input" name="token" rows="3" autocomplete="off" spellcheck="false" required></textarea>
      <button type="submit">Use this token</button>
    </form>
  </section>

  <div id="messages" class="messages" role="alert" aria-live="assertive"></div>

  <div id="app" hidden>
    <section aria-labelledby="limits-title" class="card">
      <h2 id="limits-title">Space and limits</h2>
      <div class="usage">
        <div id="usage-bar" class="bar" role="progressbar" aria-label="Storage used" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0"><span></span></div>
        <p id="usage-text" class="muted"></p>
      </div>
      <dl class="limits">
        <div><dt>Largest file</dt><dd id="limit-size">…</dd></div>
        <div><dt>Allowed types</dt><dd id="limit-types">…</dd></div>
      </dl>
    </section>

    <section aria-labelledby="upload-title" class="card">
      <h2 id="upload-title">Upload</h2>
      <div id="drop" class="drop">
        <p><strong>Drop files here</strong> or</p>
        <label class="button" for="file-input">Choose files…</label>
        <input id="file-input" type="file" multiple class="visually-hidden">
      </div>
      <div id="unfinished" class="muted" hidden></div>
      <ul id="uploads" class="uploads" aria-label="Uploads in progress"></ul>
    </section>

    <section aria-labelledby="files-title" class="card">
      <div class="row"><h2 id="files-title">Files</h2><button type="button" id="refresh" class="small">Refresh</button></div>
      <div class="table-wrap">
        <table id="files">
          <thead><tr><th scope="col">Name</th><th scope="col">Size</th><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Uploaded</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody></tbody>
        </table>
      </div>
      <p id="files-empty" class="muted" hidden>No files yet.</p>
      <button type="button" id="more" class="small" hidden>Show more</button>
    </section>
  </div>
</main>
<footer><a href="/docs">API documentation</a></footer>
</body>
</html>
`;
}
