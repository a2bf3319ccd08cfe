// The upload page (bundled by src/web/build.ts). Plain DOM over the client SDK: no framework.
import { createClient, isAbortError, StowageError, type FileView, type StowageClient, type UploadHandle, type Usage } from '../client/index.ts';

const TOKEN_KEY = 'stowage.token';
const UNFINISHED_KEY = 'stowage.unfinished';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function typeAllowed(type: string, allowed: string[]): boolean {
  const t = type.toLowerCase();
  return allowed.some((a) => a === '*/*' || a === t || (a.endsWith('/*') && t.startsWith(a.slice(0, -1))));
}

// ---------------------------------------------------------------------------------------------------------------
// Messages (in the page, never alert()).

function showMessage(text: string, kind: 'error' | 'info' = 'error'): void {
  const box = $('messages');
  const close = el('button', { type: 'button', class: 'small', 'aria-label': 'Dismiss message' }, '×');
  const item = el('div', { class: `message ${kind}` }, el('p', { text }), close);
  close.addEventListener('click', () => item.remove());
  box.append(item);
  // Keep the list short.
  while (box.children.length > 6) box.firstElementChild?.remove();
}

/** A sentence for a refusal, by the API's stable error code. */
export function refusalMessage(name: string, err: unknown, usage?: Usage | null): string {
  if (err instanceof StowageError) {
    switch (err.code) {
      case 'file_too_large':
        return `“${name}” is too large${usage ? `: the limit is ${formatBytes(usage.maxFileSize)}` : ''}.`;
      case 'content_type_not_allowed':
        return `“${name}”: this type of file is not allowed here${usage ? ` (allowed: ${usage.allowedContentTypes.join(', ')})` : ''}.`;
      case 'quota_exceeded':
        return `“${name}” does not fit: the workspace's storage quota is full (${err.message}).`;
      case 'verification_failed':
        return `“${name}” was refused: its content does not match its declared type or checksum (${err.message}).`;
      case 'unauthorized':
        return 'The token was refused (missing, invalid or expired). Paste a new one.';
      case 'rate_limited':
        return `Too many requests; try “${name}” again in a moment.`;
      default:
        return `“${name}” failed: ${err.message}`;
    }
  }
  return `“${name}” failed: ${err instanceof Error ? err.message : String(err)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Token

async function obtainToken(): Promise<string | null> {
  const stored = localStorage.getItem(TOKEN_KEY);
  if (stored) return stored;
  try {
    const res = await fetch('/web/dev-token', { headers: { accept: 'application/json' } });
    if (res.ok) {
      const body = (await res.json()) as { token: string };
      return body.token;
    }
  } catch {
    // no dev token
  }
  return null;
}

function workspaceOf(token: string): string | null {
  try {
    const payload = JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>;
    const ws = payload.workspace_id ?? payload.workspace;
    return typeof ws === 'string' ? ws : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Unfinished multipart uploads (so the page can say "pick it again to resume" after a reload).

interface Unfinished {
  name: string;
  size: number;
  lastModified: number;
}

function loadUnfinished(): Unfinished[] {
  try {
    return JSON.parse(localStorage.getItem(UNFINISHED_KEY) ?? '[]') as Unfinished[];
  } catch {
    return [];
  }
}
function saveUnfinished(list: Unfinished[]): void {
  localStorage.setItem(UNFINISHED_KEY, JSON.stringify(list.slice(-20)));
}
function sameFile(a: Unfinished, f: File): boolean {
  return a.name === f.name && a.size === f.size && a.lastModified === f.lastModified;
}
function renderUnfinished(): void {
  const list = loadUnfinished();
  const box = $('unfinished');
  box.hidden = list.length === 0;
  box.textContent =
    list.length === 0
      ? ''
      : `Unfinished from an earlier visit: ${list.map((u) => `${u.name} (${formatBytes(u.size)})`).join(', ')}. ` +
        'Choose the same file again to continue where it stopped.';
}

// ---------------------------------------------------------------------------------------------------------------

class Page {
  client: StowageClient;
  usage: Usage | null = null;
  cursor: string | null = null;
  active = 0;

  constructor(token: string) {
    this.client = createClient({ baseUrl: location.origin, token });
  }

  async refreshUsage(): Promise<void> {
    try {
      const u = await this.client.usage();
      this.usage = u;
      const used = u.usedBytes + u.reservedBytes;
      const pct = u.quotaBytes > 0 ? Math.min(100, (used / u.quotaBytes) * 100) : 100;
      const bar = $('usage-bar');
      bar.setAttribute('aria-valuenow', pct.toFixed(0));
      bar.setAttribute('aria-valuetext', `${formatBytes(used)} of ${formatBytes(u.quotaBytes)} used`);
      (bar.firstElementChild as HTMLElement).style.width = `${pct}%`;
      bar.classList.toggle('full', pct >= 90);
      $('usage-text').textContent =
        `${formatBytes(u.usedBytes)} used${u.reservedBytes ? ` (+ ${formatBytes(u.reservedBytes)} reserved for uploads in progress)` : ''} ` +
        `of ${formatBytes(u.quotaBytes)} · ${u.fileCount} of ${u.maxFiles} files`;
      $('limit-size').textContent = formatBytes(u.maxFileSize);
      $('limit-types').textContent = u.allowedContentTypes.includes('*/*') ? 'any' : u.allowedContentTypes.join(', ');
      const input = $<HTMLInputElement>('file-input');
      if (!u.allowedContentTypes.includes('*/*')) input.accept = u.allowedContentTypes.join(',');
    } catch (err) {
      this.fail(err);
    }
  }

  async refreshFiles(append = false): Promise<void> {
    try {
      const page = await this.client.listFiles({ limit: 50, cursor: append ? (this.cursor ?? undefined) : undefined });
      const tbody = $('files').querySelector('tbody')!;
      if (!append) tbody.replaceChildren();
      // Deleted files stay in the API's list (status deleted) but not on the page.
      for (const f of page.items) if (f.status !== 'deleted') tbody.append(this.fileRow(f));
      this.cursor = page.nextCursor;
      $('more').hidden = !page.nextCursor || page.items.length < 50;
      $('files-empty').hidden = tbody.children.length > 0;
    } catch (err) {
      this.fail(err);
    }
  }

  fileRow(f: FileView): HTMLTableRowElement {
    const when = f.completedAt ?? f.createdAt;
    const time = el('time', { datetime: when, text: new Date(when).toLocaleString() });
    const actions = el('td', { class: 'actions' });
    if (f.status === 'available') {
      const dl = el('button', { type: 'button', class: 'small', 'aria-label': `Download ${f.filename}` }, 'Download');
      dl.addEventListener('click', () => void this.download(f, dl));
      actions.append(dl);
    }
    const del = el('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${f.filename}` }, 'Delete');
    del.addEventListener('click', () => void this.remove(f, del));
    actions.append(del);
    const row = el(
      'tr',
      { 'data-id': f.id, 'data-status': f.status },
      el('td', { class: 'name', 'data-label': 'Name', text: f.filename }),
      el('td', { 'data-label': 'Size', text: formatBytes(f.size) }),
      el('td', { 'data-label': 'Type', text: f.contentType }),
      el('td', { 'data-label': 'Status' }, el('span', { class: `status ${f.status}`, text: f.status }), f.rejectReason ? ` (${f.rejectReason})` : ''),
      el('td', { 'data-label': 'Uploaded' }, time),
      actions,
    );
    return row;
  }

  async download(f: FileView, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    try {
      const { url } = await this.client.downloadUrl(f.id, { disposition: 'attachment' });
      const a = el('a', { href: url, download: f.filename, rel: 'noopener noreferrer' });
      document.body.append(a);
      a.click();
      a.remove();
    } catch (err) {
      showMessage(refusalMessage(f.filename, err, this.usage));
    } finally {
      button.disabled = false;
    }
  }

  async remove(f: FileView, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    try {
      await this.client.deleteFile(f.id);
      showMessage(`Deleted “${f.filename}”.`, 'info');
      await Promise.all([this.refreshFiles(), this.refreshUsage()]);
    } catch (err) {
      button.disabled = false;
      showMessage(refusalMessage(f.filename, err, this.usage));
    }
  }

  fail(err: unknown): void {
    if (err instanceof StowageError && err.code === 'unauthorized') {
      localStorage.removeItem(TOKEN_KEY);
      showMessage(refusalMessage('', err));
      askForToken();
      return;
    }
    showMessage(err instanceof Error ? err.message : String(err));
  }

  /** Checks the limits shown on the page before sending anything. */
  precheck(file: File): string | null {
    const u = this.usage;
    if (!u) return null;
    if (file.size > u.maxFileSize) {
      return `“${file.name}” is too large: ${formatBytes(file.size)}, and the limit is ${formatBytes(u.maxFileSize)}.`;
    }
    if (file.size === 0) return `“${file.name}” is empty; there is nothing to upload.`;
    const type = file.type || 'application/octet-stream';
    if (!typeAllowed(type, u.allowedContentTypes)) {
      return `“${file.name}”: files of type ${type} are not allowed here (allowed: ${u.allowedContentTypes.join(', ')}).`;
    }
    if (u.usedBytes + u.reservedBytes + file.size > u.quotaBytes) {
      return `“${file.name}” (${formatBytes(file.size)}) does not fit: the quota is full (${formatBytes(u.quotaBytes - u.usedBytes - u.reservedBytes)} free).`;
    }
    return null;
  }

  addFiles(files: Iterable<File>): void {
    for (const file of files) {
      const problem = this.precheck(file);
      if (problem) {
        showMessage(problem);
        continue;
      }
      this.startUpload(file);
    }
  }

  startUpload(file: File): void {
    const progress = el('progress', { max: '100', value: '0', 'aria-label': `Progress of ${file.name}` });
    const pct = el('span', { class: 'pct', text: '0%' });
    const detail = el('span', { class: 'detail muted', text: 'starting…' });
    const pause = el('button', { type: 'button', class: 'small', 'aria-label': `Pause ${file.name}` }, 'Pause');
    const cancel = el('button', { type: 'button', class: 'small danger', 'aria-label': `Cancel ${file.name}` }, 'Cancel');
    const item = el(
      'li',
      { class: 'upload', 'data-name': file.name, 'data-state': 'uploading' },
      el('div', { class: 'row' }, el('span', { class: 'name', text: file.name }), el('span', { class: 'muted', text: formatBytes(file.size) })),
      el('div', { class: 'row' }, progress, pct),
      el('div', { class: 'row' }, detail, el('span', { class: 'buttons' }, pause, cancel)),
    );
    $('uploads').prepend(item);

    const record: Unfinished = { name: file.name, size: file.size, lastModified: file.lastModified };
    const threshold = 0; // the server decides multipart; remember every upload until it ends
    if (file.size > threshold) {
      saveUnfinished([...loadUnfinished().filter((u) => !sameFile(u, file)), record]);
      renderUnfinished();
    }
    const forget = () => {
      saveUnfinished(loadUnfinished().filter((u) => !sameFile(u, file)));
      renderUnfinished();
    };

    this.active++;
    let paused = false;
    const handle: UploadHandle = this.client.upload(file, {
      contentType: file.type || 'application/octet-stream',
      onResume: ({ partsPresent, partCount }) => {
        item.dataset.resumed = `${partsPresent}/${partCount}`;
        detail.textContent = `resuming: ${partsPresent} of ${partCount} parts were already stored`;
      },
      onProgress: (p) => {
        const percent = p.total > 0 ? (p.bytesSent / p.total) * 100 : 0;
        progress.value = percent;
        progress.setAttribute('aria-valuetext', `${percent.toFixed(0)}%`);
        pct.textContent = `${Math.floor(percent)}%`;
        item.dataset.percent = percent.toFixed(1);
        if (!paused) {
          detail.textContent = `${formatBytes(p.bytesSent)} of ${formatBytes(p.total)} · ${formatBytes(p.rate)}/s · ${formatDuration(p.eta)} left`;
        }
      },
    });
    pause.addEventListener('click', () => {
      paused = !paused;
      if (paused) {
        handle.pause();
        pause.textContent = 'Resume';
        pause.setAttribute('aria-label', `Resume ${file.name}`);
        item.dataset.state = 'paused';
        detail.textContent = 'paused';
      } else {
        handle.resume();
        pause.textContent = 'Pause';
        pause.setAttribute('aria-label', `Pause ${file.name}`);
        item.dataset.state = 'uploading';
      }
    });
    cancel.addEventListener('click', () => {
      cancel.disabled = true;
      pause.disabled = true;
      item.dataset.state = 'cancelled';
      detail.textContent = 'cancelling…';
      handle.abort().then(
        () => (detail.textContent = 'cancelled'),
        (err: unknown) => (detail.textContent = `cancelled (the server said: ${err instanceof Error ? err.message : err})`),
      );
    });

    handle.done.then(
      (f) => {
        forget();
        progress.value = 100;
        pct.textContent = '100%';
        item.dataset.state = 'done';
        detail.textContent = `done · ${formatBytes(f.size)}`;
        pause.remove();
        cancel.remove();
      },
      (err: unknown) => {
        pause.remove();
        cancel.remove();
        if (isAbortError(err) || item.dataset.state === 'cancelled') {
          forget();
          item.dataset.state = 'cancelled';
          detail.textContent = 'cancelled';
          return;
        }
        item.dataset.state = 'failed';
        const message = refusalMessage(file.name, err, this.usage);
        detail.textContent = message;
        // Refusals end the upload for good; network failures leave it resumable.
        if (err instanceof StowageError && err.status >= 400 && err.status < 500) forget();
        showMessage(message);
      },
    ).finally(() => {
      this.active--;
      void this.refreshFiles();
      void this.refreshUsage();
    });
    void this.refreshUsage();
  }
}

// ---------------------------------------------------------------------------------------------------------------

function askForToken(): void {
  $('token-section').hidden = false;
  $('app').hidden = true;
  $('change-token').hidden = true;
  $('who').textContent = 'Not connected';
  $<HTMLTextAreaElement>('token-input').focus();
}

function wireDropZone(page: Page): void {
  const drop = $('drop');
  const input = $<HTMLInputElement>('file-input');
  input.addEventListener('change', () => {
    if (input.files) page.addFiles(Array.from(input.files));
    input.value = '';
  });
  for (const ev of ['dragenter', 'dragover'] as const) {
    drop.addEventListener(ev, (e) => {
      e.preventDefault();
      drop.classList.add('over');
    });
  }
  for (const ev of ['dragleave', 'drop'] as const) {
    drop.addEventListener(ev, () => drop.classList.remove('over'));
  }
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    if (e.dataTransfer?.files?.length) page.addFiles(Array.from(e.dataTransfer.files));
  });
  // Dropping a file elsewhere must not navigate away from uploads in progress.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());
  window.addEventListener('beforeunload', (e) => {
    if (page.active > 0) e.preventDefault();
  });
}

async function start(token: string): Promise<void> {
  $('token-section').hidden = true;
  $('app').hidden = false;
  $('change-token').hidden = false;
  const ws = workspaceOf(token);
  $('who').textContent = ws ? `Workspace: ${ws}` : 'Connected';
  const page = new Page(token);
  (window as unknown as { stowagePage: Page }).stowagePage = page;
  wireDropZone(page);
  $('refresh').addEventListener('click', () => void Promise.all([page.refreshFiles(), page.refreshUsage()]));
  $('more').addEventListener('click', () => void page.refreshFiles(true));
  renderUnfinished();
  await Promise.all([page.refreshUsage(), page.refreshFiles()]);
  document.body.dataset.ready = 'true';
}

async function init(): Promise<void> {
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const value = $<HTMLTextAreaElement>('token-input').value.trim().replace(/^Bearer\s+/i, '');
    if (!value) return;
    localStorage.setItem(TOKEN_KEY, value);
    location.reload();
  });
  $('change-token').addEventListener('click', () => {
    localStorage.removeItem(TOKEN_KEY);
    askForToken();
  });
  const token = await obtainToken();
  if (!token) {
    askForToken();
    document.body.dataset.ready = 'token';
    return;
  }
  await start(token);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => void init());
else void init();
