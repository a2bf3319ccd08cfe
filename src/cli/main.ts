// `stowage <command>`: dispatches to src/cli/commands/<name>.ts.
// The AWS SDK warns on every start that its 2027 releases will need Node 22; the pinned version runs on Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import { formatHelp, parseArgs, UsageError } from './args.ts';
import type { Command } from './command.ts';

/**
 * Every command, loaded only when used: `stowage ls` must not pay for the AWS SDK, pg and Fastify that `start` needs.
 * Order = order in `stowage --help`.
 */
const loaders: Array<[name: string, load: () => Promise<Command>]> = [
  ['start', async () => (await import('./commands/start.ts')).startCommand],
  ['serve', async () => (await import('./commands/serve.ts')).serveCommand],
  ['worker', async () => (await import('./commands/worker.ts')).workerCommand],
  ['migrate', async () => (await import('./commands/migrate.ts')).migrateCommand],
  ['token', async () => (await import('./commands/token.ts')).tokenCommand],
  ['workspace', async () => (await import('./commands/workspace.ts')).workspaceCommand],
  ['upload', async () => (await import('./commands/upload.ts')).uploadCommand],
  ['ls', async () => (await import('./commands/files.ts')).lsCommand],
  ['download', async () => (await import('./commands/files.ts')).downloadCommand],
  ['rm', async () => (await import('./commands/files.ts')).rmCommand],
  ['cleanup', async () => (await import('./commands/cleanup.ts')).cleanupCommand],
  ['edge', async () => (await import('./commands/edge.ts')).edgeCommand],
  ['s3', async () => (await import('./commands/s3.ts')).s3Command],
];

/** Commands implemented elsewhere that parse their own argv (edge, workers…): name → runner. */
const external: Record<string, { summary: string; run: (argv: string[]) => Promise<number> }> = {
};

async function mainHelp(): Promise<string> {
  const commands = await Promise.all(loaders.map(([, load]) => load()));
  const width = Math.max(...[...commands.map((c) => c.name), ...Object.keys(external)].map((n) => n.length));
  return [
    'Usage: stowage <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary.split('\n')[0]}`),
    ...Object.entries(external).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`),
    '',
    'Run `stowage <command> --help` for a command\'s options.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write((await mainHelp()) + '\n');
    return name ? 0 : 1;
  }
  const ext = external[name];
  if (ext) return ext.run(rest);
  const loader = loaders.find(([n]) => n === name);
  if (!loader) {
    process.stderr.write(`stowage: unknown command "${name}"\n\n${await mainHelp()}\n`);
    return 2;
  }
  const cmd = await loader[1]();
  try {
    const args = parseArgs(rest, cmd.flags);
    if (args.help) {
      process.stdout.write(formatHelp(cmd.usage, cmd.summary, cmd.flags) + '\n');
      return 0;
    }
    return await cmd.run(args);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`stowage ${cmd.name}: ${err.message}\n\n${formatHelp(cmd.usage, cmd.summary, cmd.flags)}\n`);
      return 2;
    }
    process.stderr.write(`stowage ${cmd.name}: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Long-running commands return after shutdown; make sure stray handles (SDK sockets) do not keep us alive.
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (err) => {
    process.stderr.write(`stowage: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
