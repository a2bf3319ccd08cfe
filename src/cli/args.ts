// A small hand-written argv parser: --name value, --name=value, boolean --flag, -h/--help.

export interface FlagSpec {
  type: 'string' | 'boolean';
  description: string;
  /** Shown in help as the value's name (string flags). */
  value?: string;
  /** A one-letter alias, e.g. 'o' for -o. */
  short?: string;
}

export class UsageError extends Error {}

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  help: boolean;
}

export function parseArgs(argv: string[], spec: Record<string, FlagSpec>): ParsedArgs {
  const values: Record<string, string | boolean | undefined> = {};
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    const shortName = /^-([a-zA-Z])$/.test(arg) ? Object.keys(spec).find((k) => spec[k]!.short === arg[1]) : undefined;
    if (/^-[a-zA-Z]$/.test(arg) && !shortName) throw new UsageError(`unknown option ${arg}`);
    if (!arg.startsWith('--') && !shortName) {
      positionals.push(arg);
      continue;
    }
    const eq = shortName ? -1 : arg.indexOf('=');
    const name = shortName ?? (eq === -1 ? arg.slice(2) : arg.slice(2, eq));
    const flag = spec[name];
    if (!flag) throw new UsageError(`unknown option --${name}`);
    if (flag.type === 'boolean') {
      if (eq !== -1) {
        const v = arg.slice(eq + 1).toLowerCase();
        if (!['true', 'false', '1', '0'].includes(v)) throw new UsageError(`--${name} takes no value`);
        values[name] = v === 'true' || v === '1';
      } else values[name] = true;
      continue;
    }
    let v: string | undefined;
    if (eq !== -1) v = arg.slice(eq + 1);
    else {
      v = argv[i + 1];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`--${name} needs a value`);
      i++;
    }
    values[name] = v;
  }
  return { values, positionals, help };
}

export function formatHelp(usage: string, summary: string, spec: Record<string, FlagSpec>): string {
  const lines = [`Usage: ${usage}`, '', summary];
  const entries = Object.entries(spec);
  if (entries.length > 0) {
    lines.push('', 'Options:');
    const labels = entries.map(([n, f]) => `${f.short ? `-${f.short}, ` : ''}--${n}${f.type === 'string' ? ` <${f.value ?? 'value'}>` : ''}`);
    const width = Math.max(...labels.map((l) => l.length), 10);
    entries.forEach(([, f], i) => lines.push(`  ${labels[i]!.padEnd(width)}  ${f.description}`));
  }
  lines.push(`  ${'--help'.padEnd(Math.max(10, ...entries.map(([n]) => n.length + 2)))}  show this help`);
  return lines.join('\n');
}
