// Renders the OpenAPI document as one self-contained HTML page on the server: no script, no CDN.
import type { JsonSchema } from './openapi.ts';

const esc = (s: unknown) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A compact type expression for a schema: `string`, `FileView[]`, `{a: string, b?: number}`. */
function typeOf(s: JsonSchema | undefined, depth = 0): string {
  if (!s) return 'any';
  if (typeof s.$ref === 'string') {
    const name = s.$ref.split('/').pop()!;
    return `<a href="#schema-${esc(name)}">${esc(name)}</a>`;
  }
  if (Array.isArray(s.enum)) return s.enum.map((v) => esc(JSON.stringify(v))).join(' | ');
  if (s.const !== undefined) return esc(JSON.stringify(s.const));
  for (const k of ['anyOf', 'oneOf'] as const) {
    if (Array.isArray(s[k])) return (s[k] as JsonSchema[]).map((x) => typeOf(x, depth)).join(' | ');
  }
  const t = s.type;
  if (Array.isArray(t)) return t.map((x) => typeOf({ ...s, type: x }, depth)).join(' | ');
  if (t === 'array') return `${typeOf(s.items as JsonSchema, depth)}[]`;
  if (t === 'object' || s.properties) {
    const props = s.properties as Record<string, JsonSchema> | undefined;
    if (!props || Object.keys(props).length === 0) {
      return s.additionalProperties && typeof s.additionalProperties === 'object'
        ? `{[key]: ${typeOf(s.additionalProperties as JsonSchema, depth)}}`
        : 'object';
    }
    if (depth > 1) return 'object';
    const req = new Set((s.required as string[]) ?? []);
    return `{${Object.entries(props).map(([k, v]) => `${esc(k)}${req.has(k) ? '' : '?'}: ${typeOf(v, depth + 1)}`).join(', ')}}`;
  }
  return esc(t ?? 'any');
}

function propsTable(s: JsonSchema | undefined): string {
  const props = s?.properties as Record<string, JsonSchema> | undefined;
  if (!props) return `<p><code>${typeOf(s)}</code></p>`;
  const req = new Set((s!.required as string[]) ?? []);
  const rows = Object.entries(props).map(([k, v]) => {
    const limits = ['minLength', 'maxLength', 'minimum', 'maximum', 'minItems', 'maxItems']
      .filter((x) => v[x] !== undefined)
      .map((x) => `${x} ${esc(v[x])}`)
      .join(', ');
    return `<tr><td><code>${esc(k)}</code>${req.has(k) ? ' <span class="req">required</span>' : ''}</td><td><code>${typeOf(v)}</code></td><td>${esc(v.description ?? '')}${limits ? ` <span class="muted">${limits}</span>` : ''}</td></tr>`;
  });
  return `<table><thead><tr><th>Field</th><th>Type</th><th>Notes</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

export function docsHtml(spec: JsonSchema): string {
  const info = spec.info as { title: string; version: string; description?: string };
  const paths = spec.paths as Record<string, Record<string, JsonSchema>>;
  const components = ((spec.components as JsonSchema | undefined)?.schemas ?? {}) as Record<string, JsonSchema>;
  const byTag = new Map<string, string[]>();
  const toc = new Map<string, string[]>();
  for (const [path, ops] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const tag = ((op.tags as string[]) ?? ['other'])[0]!;
      const id = `op-${esc(op.operationId)}`;
      const params = (op.parameters as JsonSchema[] | undefined) ?? [];
      const body = (op.requestBody as { content: Record<string, { schema: JsonSchema }> } | undefined)?.content;
      const responses = op.responses as Record<string, { description: string; content?: Record<string, { schema: JsonSchema }> }>;
      const auth = (op.security as unknown[]).length > 0 ? Object.keys((op.security as Record<string, unknown>[])[0]!)[0] : null;
      const html = [
        `<section class="op" id="${id}"><h3><span class="method ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h3>`,
        `<p>${esc(op.summary)}</p>`,
        op.description ? `<p>${esc(op.description)}</p>` : '',
        `<p class="muted">Auth: ${auth === 'bearerAuth' ? 'Bearer token' : auth ? 'events secret' : 'none'}</p>`,
        params.length
          ? `<h4>Parameters</h4><table><thead><tr><th>Name</th><th>In</th><th>Type</th></tr></thead><tbody>${params
              .map((p) => `<tr><td><code>${esc(p.name)}</code>${p.required ? ' <span class="req">required</span>' : ''}</td><td>${esc(p.in)}</td><td><code>${typeOf(p.schema as JsonSchema)}</code></td></tr>`)
              .join('')}</tbody></table>`
          : '',
        body
          ? `<h4>Request body</h4>${Object.entries(body).map(([ct, c]) => `<p class="muted">${esc(ct)}</p>${propsTable(c.schema)}`).join('')}`
          : '',
        `<h4>Responses</h4><table><tbody>${Object.entries(responses)
          .map(([st, r]) => `<tr><td><code>${esc(st)}</code></td><td>${esc(r.description)}${r.content ? ` — <code>${Object.values(r.content).map((c) => typeOf(c.schema)).join(' ')}</code>` : ''}</td></tr>`)
          .join('')}</tbody></table>`,
        '</section>',
      ].join('');
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag)!.push(html);
      if (!toc.has(tag)) toc.set(tag, []);
      toc.get(tag)!.push(`<li><a href="#${id}"><span class="method ${esc(method)}">${esc(method.toUpperCase())}</span> ${esc(path)}</a></li>`);
    }
  }
  const schemas = Object.entries(components)
    .map(([name, s]) => `<section class="op" id="schema-${esc(name)}"><h3>${esc(name)}</h3>${s.properties ? propsTable(s) : `<p><code>${typeOf(s)}</code></p>`}</section>`)
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(info.title)} ${esc(info.version)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f8fa;line-height:1.45}
header{background:#fff;border-bottom:1px solid #d0d7de;padding:1rem}main{display:grid;grid-template-columns:18rem 1fr;gap:1rem;max-width:80rem;margin:0 auto;padding:1rem}
nav{position:sticky;top:0;align-self:start;max-height:100vh;overflow:auto;font-size:.85rem}nav ul{list-style:none;padding:0;margin:0 0 1rem}nav a{text-decoration:none;color:#0b63ce;display:block;padding:.1rem 0}
h1{margin:0;font-size:1.4rem}h2{text-transform:capitalize;border-bottom:1px solid #d0d7de}h4{margin:.8rem 0 .3rem}
.op{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:.5rem 1rem;margin-bottom:1rem;overflow-x:auto}
.method{display:inline-block;min-width:3.6rem;text-align:center;font-size:.75rem;font-weight:700;border-radius:4px;padding:.05rem .3rem;color:#fff;background:#57606a}
.get{background:#1a7f37}.post{background:#0b63ce}.delete{background:#b42318}.put{background:#9a6700}.patch{background:#8250df}
table{border-collapse:collapse;width:100%;font-size:.88rem}td,th{border-bottom:1px solid #eaeef2;text-align:left;padding:.3rem;vertical-align:top}
.req{color:#b42318;font-size:.75rem}.muted{color:#57606a;font-size:.85rem}code{font-size:.85rem}a:focus-visible{outline:3px solid #f59e0b}
@media(max-width:760px){main{grid-template-columns:1fr}nav{position:static;max-height:none}}
</style></head><body>
<header><h1>${esc(info.title)} <span class="muted">v${esc(info.version)} · OpenAPI ${esc(spec.openapi)}</span></h1>
<p>${esc(info.description ?? '')}</p><p><a href="/openapi.json">openapi.json</a> · <a href="/">upload page</a></p></header>
<main><nav aria-label="Operations">${[...toc].map(([t, items]) => `<h2>${esc(t)}</h2><ul>${items.join('')}</ul>`).join('')}<h2>schemas</h2><ul>${Object.keys(components).map((n) => `<li><a href="#schema-${esc(n)}">${esc(n)}</a></li>`).join('')}</ul></nav>
<div>${[...byTag].map(([t, ops]) => `<h2 id="tag-${esc(t)}">${esc(t)}</h2>${ops.join('')}`).join('')}<h2 id="schemas">Schemas</h2>${schemas}</div></main>
</body></html>`;
}
