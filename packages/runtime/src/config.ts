import { isIP, isIPv6 } from 'node:net';

/**
 * Service configuration: a declarative schema of options, each settable by an
 * environment variable and a command-line flag (the flag wins), checked
 * against its kind so a bad value stops the process at start with one line
 * that names the variable, the value and the rule, instead of failing later
 * somewhere deep in a socket call. This file is the machinery; the schemas
 * of the operations contract are in service-options.ts.
 */

export type OptionKind = 'string' | 'int' | 'port' | 'url' | 'host' | 'enum' | 'bool' | 'path' | 'duration-ms';

export interface OptionSpec {
  /** Environment variable, SEEDBOX_ prefixed. */
  env: string;
  /** Flag name without the leading `--`. */
  flag: string;
  /** Other flag names for it (e.g. `seedbox serve --data` beside `--data-dir`). */
  aliases?: readonly string[];
  kind: OptionKind;
  default?: string | number | boolean;
  /** What help prints for the default when the value itself would mislead (e.g. "the host name"). */
  defaultText?: string;
  required?: boolean;
  /** Bounds for int, port and duration-ms. */
  min?: number;
  max?: number;
  /** The allowed values of an enum. */
  values?: readonly string[];
  /** Never printed: not in errors, not in help, redacted by redactConfig. */
  secret?: boolean;
  describe: string;
}

export type ConfigSchema = Readonly<Record<string, OptionSpec>>;

type ValueOf<O extends OptionSpec> = O['kind'] extends 'int' | 'port' | 'duration-ms'
  ? number
  : O['kind'] extends 'bool'
    ? boolean
    : O extends { kind: 'enum'; values: readonly (infer V extends string)[] }
      ? V
      : string;

type AlwaysSet<O extends OptionSpec> = O extends { default: string | number | boolean }
  ? true
  : O extends { required: true }
    ? true
    : false;

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The object loadConfig returns for a schema: options with a default or `required` are always set. */
export type ConfigOf<S extends ConfigSchema> = Simplify<
  { -readonly [K in keyof S as AlwaysSet<S[K]> extends true ? K : never]: ValueOf<S[K]> } & {
    -readonly [K in keyof S as AlwaysSet<S[K]> extends true ? never : K]?: ValueOf<S[K]>;
  }
>;

/** Identity that keeps the literal types (kinds, enum values, `required: true`) that ConfigOf needs. */
export function defineOptions<const S extends ConfigSchema>(schema: S): S {
  return schema;
}

export type ConfigRule =
  | 'required'
  | 'unknown-flag'
  | 'unexpected-argument'
  | 'missing-value'
  | 'empty'
  | 'not-an-integer'
  | 'not-a-port'
  | 'not-a-duration'
  | 'out-of-range'
  | 'not-a-url'
  | 'unsupported-scheme'
  | 'not-a-host'
  | 'not-a-bool'
  | 'not-one-of'
  | 'not-a-path';

/** A configuration value broke a rule; the message is the one line a service prints before exiting 1. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** The option's environment variable; undefined for a flag or argument that matches no option. */
  readonly option: string | undefined;
  /** Where the value came from: 'env SEEDBOX_X', 'flag --x', or 'argument "x"'. */
  readonly source: string;
  readonly rule: ConfigRule;

  constructor(message: string, fields: { option: string | undefined; source: string; rule: ConfigRule }) {
    super(message);
    this.option = fields.option;
    this.source = fields.source;
    this.rule = fields.rule;
  }
}

export interface LoadConfigInput {
  /** Arguments after the command (process.argv.slice(2)). */
  argv?: readonly string[];
  env?: Readonly<Record<string, string | undefined>>;
}

/** True when argv asks for help; checked before loadConfig, which would call --help an unknown flag. */
export function isHelpRequested(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

interface RawValue {
  text: string;
  /** 'env SEEDBOX_X' or 'flag --x'. */
  source: string;
  /** How the value is shown in messages: `SEEDBOX_X=value` or `--x=value`. */
  label: string;
}

export function loadConfig<const S extends ConfigSchema>(schema: S, input: LoadConfigInput = {}): ConfigOf<S> {
  const argv = input.argv ?? [];
  const env = input.env ?? {};
  const byFlag = new Map<string, [string, OptionSpec]>();
  for (const [key, spec] of Object.entries(schema)) for (const f of [spec.flag, ...(spec.aliases ?? [])]) byFlag.set(f, [key, spec]);

  const fromFlags = parseArgv(argv, byFlag);
  const result: Record<string, string | number | boolean> = {};
  for (const [key, spec] of Object.entries(schema)) {
    let raw = fromFlags.get(key);
    if (raw === undefined) {
      const text = env[spec.env];
      // An empty variable is how Helm and compose files say "not set"; treat it so.
      if (text !== undefined && text !== '') raw = { text, source: `env ${spec.env}`, label: `${spec.env}=` };
    }
    if (raw === undefined) {
      if (spec.default !== undefined) result[key] = spec.default;
      else if (spec.required) {
        throw new ConfigError(`${spec.env} (or --${spec.flag}) is required: ${spec.describe}`, {
          option: spec.env,
          source: `env ${spec.env}`,
          rule: 'required',
        });
      }
      continue;
    }
    result[key] = parseValue(spec, raw);
  }
  return result as ConfigOf<S>;
}

function parseArgv(argv: readonly string[], byFlag: Map<string, [string, OptionSpec]>): Map<string, RawValue> {
  const out = new Map<string, RawValue>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--') || arg === '--') {
      if (arg.startsWith('-') && arg !== '-' && arg !== '--') {
        throw new ConfigError(`${arg}: unknown flag (flags are --name)`, { option: undefined, source: `flag ${arg}`, rule: 'unknown-flag' });
      }
      // No option takes positional arguments, so one is a mistake (often a
      // value after a boolean flag, or a flag missing its dashes).
      throw new ConfigError(`unexpected argument ${JSON.stringify(arg)}: every setting is a --flag or a SEEDBOX_ variable`, {
        option: undefined,
        source: `argument ${JSON.stringify(arg)}`,
        rule: 'unexpected-argument',
      });
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const entry = byFlag.get(name);
    if (entry === undefined) {
      throw new ConfigError(`--${name}: unknown flag`, { option: undefined, source: `flag --${name}`, rule: 'unknown-flag' });
    }
    const [key, spec] = entry;
    const source = `flag --${name}`;
    let text: string;
    if (eq !== -1) text = arg.slice(eq + 1);
    else if (spec.kind === 'bool') {
      // A bare boolean flag means true; it never takes the next argument, so
      // `--flag false` is rejected (stray argument) rather than misread.
      text = 'true';
    } else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) {
        throw new ConfigError(`--${name}: missing value (${spec.kind})`, { option: spec.env, source, rule: 'missing-value' });
      }
      text = next;
      i++;
    }
    // The last occurrence wins, so a wrapper script can append an override.
    out.set(key, { text, source, label: `--${name}=` });
  }
  return out;
}

function parseValue(spec: OptionSpec, raw: RawValue): string | number | boolean {
  const shown = spec.secret ? `${raw.label}<secret>` : `${raw.label}${raw.text}`;
  const fail = (rule: ConfigRule, why: string): never => {
    throw new ConfigError(`${shown}: ${why}`, { option: spec.env, source: raw.source, rule });
  };
  const text = raw.text;
  if (text === '') fail('empty', `empty value (${spec.kind})`);

  switch (spec.kind) {
    case 'string':
      return text;
    case 'path':
      // NUL is the one byte no file system accepts in a path.
      if (text.includes('\0')) fail('not-a-path', 'not a path (contains a NUL byte)');
      return text;
    case 'int': {
      if (!/^[+-]?\d+$/.test(text) || !Number.isSafeInteger(Number(text))) fail('not-an-integer', 'not an integer');
      return checkRange(spec, Number(text), fail);
    }
    case 'port': {
      const n = Number(text);
      if (!/^\d+$/.test(text) || n > 65535) fail('not-a-port', 'not a port (0..65535)');
      return checkRange(spec, n, fail);
    }
    case 'duration-ms': {
      if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
        fail('not-a-duration', 'not a duration (a whole number of milliseconds)');
      }
      return checkRange(spec, Number(text), fail);
    }
    case 'bool': {
      const b = BOOL_WORDS[text.toLowerCase()];
      if (b === undefined) fail('not-a-bool', 'not a boolean (true, false, 1, 0, yes, no, on, off)');
      return b as boolean;
    }
    case 'enum': {
      const values = spec.values ?? [];
      if (!values.includes(text)) fail('not-one-of', `not one of ${values.join(', ')}`);
      return text;
    }
    case 'host': {
      const host = parseHost(text);
      if (host === undefined) fail('not-a-host', 'not a host (an IPv4 or IPv6 address, or a DNS name)');
      return host as string;
    }
    case 'url':
      return parseUrlList(text, fail);
  }
}

const BOOL_WORDS: Record<string, boolean | undefined> = {
  true: true,
  false: false,
  '1': true,
  '0': false,
  yes: true,
  no: false,
  on: true,
  off: false,
};

function checkRange(spec: OptionSpec, n: number, fail: (rule: ConfigRule, why: string) => never): number {
  // A port's bounds are always known, so its message can show both.
  const min = spec.min ?? (spec.kind === 'port' ? 0 : undefined);
  const max = spec.max ?? (spec.kind === 'port' ? 65535 : undefined);
  if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
    const range =
      min !== undefined && max !== undefined ? `${min}..${max}` : min !== undefined ? `at least ${min}` : `at most ${String(max)}`;
    fail('out-of-range', `out of range (${range})`);
  }
  return n;
}

/** Hosts as Node's listen() and the NATS client want them: an IPv6 literal without brackets. */
function parseHost(text: string): string | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (bare !== text) return isIPv6(bare) ? bare : undefined;
  if (isIP(text) !== 0) return text;
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  if (name.length === 0 || name.length > 253) return undefined;
  const labels = name.split('.');
  // RFC 1123 labels; and a name of only numeric labels is a malformed address
  // (256.1.1.1), not a name.
  if (!labels.every((l) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(l))) return undefined;
  if (labels.every((l) => /^\d+$/.test(l))) return undefined;
  return text;
}

const NATS_SCHEMES = new Set(['nats:', 'tls:', 'ws:', 'wss:']);

function parseUrlList(text: string, fail: (rule: ConfigRule, why: string) => never): string {
  const items = text.split(',').map((s) => s.trim());
  for (const item of items) {
    if (item === '') fail('not-a-url', 'empty entry in the URL list');
    let url: URL;
    try {
      url = new URL(item);
    } catch {
      return fail('not-a-url', `not a URL: ${item}`);
    }
    if (!NATS_SCHEMES.has(url.protocol)) fail('unsupported-scheme', `${item}: scheme must be nats://, tls://, ws:// or wss://`);
    if (url.hostname === '') fail('not-a-url', `${item}: no host`);
  }
  return items.join(',');
}

/** Help text: one entry per option with its flag, variable, default and description. */
export function configHelp(schema: ConfigSchema): string {
  const lines: string[] = [];
  for (const spec of Object.values(schema)) {
    const value = spec.kind === 'bool' ? '' : spec.kind === 'enum' ? ` <${(spec.values ?? []).join('|')}>` : ` <${spec.kind}>`;
    lines.push(`  --${[spec.flag, ...(spec.aliases ?? [])].join(', --')}${value}  (env ${spec.env})`);
    const notes: string[] = [];
    if (spec.required) notes.push('required');
    else if (!spec.secret && (spec.defaultText !== undefined || spec.default !== undefined)) {
      notes.push(`default: ${spec.defaultText ?? String(spec.default)}`);
    }
    if (spec.min !== undefined || spec.max !== undefined) notes.push(`range: ${spec.min ?? ''}..${spec.max ?? ''}`);
    lines.push(`      ${spec.describe}${notes.length > 0 ? ` [${notes.join('; ')}]` : ''}`);
  }
  return lines.join('\n') + '\n';
}

/** The configuration with secret options replaced, for the start-up log line. */
export function redactConfig<S extends ConfigSchema>(schema: S, config: ConfigOf<S>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config as Record<string, unknown>)) {
    out[key] = schema[key]?.secret && value !== undefined ? '<redacted>' : value;
  }
  return out;
}
