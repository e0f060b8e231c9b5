// The `canyan-rating` command line. `start`, `agent`, `engine` and `api` are sets of roles started
// in one process (src/app/system.ts); `test` runs scenarios.
import { Command, CommanderError, Option } from 'commander';
import pino from 'pino';
import type { RunningSystem, SystemRoles } from '../app/system.ts';
import { addTestCommand } from './test-command.ts';
import { CONFIG_KEYS, ConfigError, DEFAULT_CONFIG, loadConfig, type RatingConfig } from '../config/config.ts';

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_CONFIG = 2;

/** How long a stop may wait for in-flight work before the process gives up on a clean exit. */
const STOP_TIMEOUT_MS = 15_000;

interface CommandSpec {
  name: string;
  summary: string;
  roles: SystemRoles;
}

const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'start',
    summary: 'run everything in one process: HTTP API (GraphQL + REST), rating engine and HEP agent',
    roles: { api: true, agent: true, engine: true },
  },
  {
    name: 'agent',
    summary: 'run the HEP agent: calls are rated in this process (bus_url=local) or sent to engines over RabbitMQ (bus_url=amqp://...); /status on api_listen',
    roles: { api: false, agent: true, engine: false },
  },
  {
    name: 'engine',
    summary: 'run a rating engine that takes call events from RabbitMQ (bus_url=amqp://...); /status on api_listen',
    roles: { api: false, agent: false, engine: true },
  },
  {
    name: 'api',
    summary: 'run the HTTP API alone: GraphQL at /graphql, agent endpoints at /v1/*, /status',
    roles: { api: true, agent: false, engine: false },
  },
];

/** Flags that override configuration keys; commander hands them over in camelCase. */
const CONFIG_FLAGS = CONFIG_KEYS.filter((spec) => spec.flag !== null);

export interface MainIo {
  env: NodeJS.ProcessEnv;
  stderr: (line: string) => void;
  exit: (code: number) => void;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM). */
  stopSignal: () => Promise<string>;
}

const processIo: MainIo = {
  env: process.env,
  stderr: (line) => process.stderr.write(`${line}\n`),
  exit: (code) => process.exit(code),
  stopSignal: () =>
    new Promise((resolve) => {
      const onSignal = (signal: NodeJS.Signals) => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        resolve(signal);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    }),
};

export async function main(argv: string[], io: MainIo = processIo): Promise<void> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are successful exits; a usage mistake is a configuration error.
      io.exit(error.exitCode === 0 ? EXIT_OK : EXIT_CONFIG);
      return;
    }
    throw error;
  }
}

function buildProgram(io: MainIo): Command {
  const program = new Command('canyan-rating')
    .description('Real-time rating for SIP telephony: HEP capture agent, rating engine and Canyan-compatible GraphQL API')
    .exitOverride()
    .configureOutput({ writeErr: (text) => io.stderr(text.trimEnd()) })
    .showHelpAfterError('(run canyan-rating --help for usage)')
    .addHelpText('after', configurationHelp());

  for (const spec of COMMANDS) {
    const command = program.command(spec.name).description(spec.summary).exitOverride();
    command.addOption(new Option('--config <file>', 'YAML configuration file (top-level keys are the configuration keys)'));
    for (const key of CONFIG_FLAGS) {
      command.addOption(new Option(`${key.flag} <value>`, `${key.description} [${key.key}]`));
    }
    command.addHelpText('after', configurationHelp());
    command.action(async (options: Record<string, unknown>) => {
      const code = await run(spec, options, io);
      io.exit(code);
    });
  }
  addTestCommand(program, { stdout: (line) => process.stdout.write(`${line}\n`), stderr: io.stderr, exit: io.exit, stopSignal: io.stopSignal });
  return program;
}

async function run(spec: CommandSpec, options: Record<string, unknown>, io: MainIo): Promise<number> {
  const { config: configFile, ...flags } = options;
  const warnings: string[] = [];
  let config: RatingConfig;
  try {
    config = loadConfig({
      flags,
      env: io.env,
      configFile: typeof configFile === 'string' ? configFile : undefined,
      warn: (message) => warnings.push(message),
    });
  } catch (error) {
    return reportFailure(error, io);
  }

  const logger = pino({ level: config.log_level, base: { service: 'canyan-rating' } });
  for (const warning of warnings) logger.warn(warning);
  logger.info({ command: spec.name, roles: spec.roles }, `canyan-rating ${spec.name} starting`);

  // Listening before start-up, so a signal during a slow start still ends in a clean stop.
  const stopRequested = io.stopSignal();
  let system: RunningSystem;
  try {
    // Loaded only now, so --help and configuration errors answer without loading the server stack.
    const { startSystem } = await import('../app/system.ts');
    system = await startSystem(config, { roles: spec.roles, logger });
  } catch (error) {
    if (!(error instanceof ConfigError)) logger.error({ err: error }, 'start-up failed');
    return reportFailure(error, io);
  }
  logger.info('canyan-rating started');

  const signal = await stopRequested;
  // The handlers are gone now: a second SIGINT/SIGTERM kills the process the default way.
  logger.info({ signal }, 'stopping');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS);
  });
  try {
    const outcome = await Promise.race([system.close().then(() => 'closed' as const), timedOut]);
    if (outcome === 'timeout') {
      logger.error(`stop did not finish within ${STOP_TIMEOUT_MS} ms; exiting anyway`);
      return EXIT_FAILURE;
    }
  } catch (error) {
    logger.error({ err: error }, 'error while stopping');
    return EXIT_FAILURE;
  } finally {
    clearTimeout(timer);
  }
  logger.info('stopped');
  return EXIT_OK;
}

/** One clear line on stderr; configuration mistakes never show a stack trace. */
function reportFailure(error: unknown, io: MainIo): number {
  if (error instanceof ConfigError) {
    io.stderr(`canyan-rating: ${error.message}`);
    return EXIT_CONFIG;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr(`canyan-rating: start-up failed: ${message.split('\n')[0]}`);
  return EXIT_FAILURE;
}

function configurationHelp(): string {
  const rows = CONFIG_KEYS.map((spec) => {
    const fallback = DEFAULT_CONFIG[spec.key];
    const shown = Array.isArray(fallback) ? `[${fallback.join(', ')}]` : JSON.stringify(fallback);
    const aliases = spec.yamlAliases.length > 0 ? ` (YAML also ${spec.yamlAliases.join(', ')})` : '';
    return `  ${spec.key} = ${shown}${aliases}\n      ${spec.description}\n      env ${spec.env.join(' or ')}${spec.flag !== null ? `, flag ${spec.flag}` : ''}`;
  });
  return [
    '',
    'Configuration keys (precedence: default < --config YAML file < environment < flags;',
    'lists in the environment are separated by commas or whitespace):',
    ...rows,
  ].join('\n');
}
