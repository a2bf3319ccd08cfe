// `stowage <command>`: dispatches to src/cli/commands/<name>.ts.
// The AWS SDK warns on every start that its 2027 releases will need Node 22; the pinned version runs on Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import { formatHelp, parseArgs, UsageError } from './args.ts';
import type { Command } from './command.ts';
import { startCommand } from './commands/start.ts';
import { serveCommand } from './commands/serve.ts';
import { migrateCommand } from './commands/migrate.ts';
import { tokenCommand } from './commands/token.ts';
import { workspaceCommand } from './commands/workspace.ts';
import { uploadCommand } from './commands/upload.ts';
import { downloadCommand, lsCommand, rmCommand } from './commands/files.ts';
import { s3Command } from './commands/s3.ts';
import { workerCommand } from './commands/worker.ts';
import { cleanupCommand } from './commands/cleanup.ts';
import { edgeCommand } from './commands/edge.ts';

const commands: Command[] = [
  startCommand,
  serveCommand,
  migrateCommand,
  tokenCommand,
  edgeCommand,
  workspaceCommand,
  uploadCommand,
  lsCommand,
  downloadCommand,
  rmCommand,
  s3Command,
  workerCommand,
  cleanupCommand,
];

/** Commands implemented elsewhere that parse their own argv (edge, workers…): name → runner. */
const external: Record<string, { summary: string; run: (argv: string[]) => Promise<number> }> = {
};

function mainHelp(): string {
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
    process.stdout.write(mainHelp() + '\n');
    return name ? 0 : 1;
  }
  const ext = external[name];
  if (ext) return ext.run(rest);
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`stowage: unknown command "${name}"\n\n${mainHelp()}\n`);
    return 2;
  }
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
