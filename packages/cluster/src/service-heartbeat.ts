import type { NatsConnection, Subscription } from 'nats';
import { SERVICE_HEARTBEAT } from './subjects.js';

/**
 * Every service process says who it is every two seconds on
 * `seedbox.service.heartbeat`: its kind, instance id, version, when it
 * started, whether it is ready (the verdict /readyz gives) and a few
 * figures of its own (a peer-worker's rates, a disk-writer's writes, the
 * tracker-client's torrents). The peer-workers keep the fleet view from
 * them (services/peer-worker/src/fleet/fleet-members.ts).
 *
 * JSON rather than a protobuf message: a heartbeat is a few hundred bytes
 * at half a hertz per process, the figures differ by kind and grow with
 * the services, and a person can read one with `nats sub`. It is checked
 * field by field on read; whatever breaks a rule is a
 * ServiceHeartbeatError naming the field, which the reader logs and
 * skips: one process's malformed heartbeat never stops the others'.
 */

export const SERVICE_KINDS = ['peer-worker', 'disk-writer', 'tracker-client', 'serve'] as const;
export type ServiceKind = (typeof SERVICE_KINDS)[number];

/** A service's own figures by name: rates per second, counts. */
export type ServiceFigures = Record<string, number>;

export interface ServiceHeartbeat {
  kind: ServiceKind;
  instance: string;
  version: string;
  /** Unix ms at which the process started. */
  startedAt: number;
  /** Unix ms at which this heartbeat left (the sender's clock). */
  sentAt: number;
  /** /readyz's verdict: true, or why not. */
  ready: true | string;
  /** The last heartbeat of a process shutting down: it will not be heard from again. */
  leaving: boolean;
  figures: ServiceFigures;
}

/** Heartbeats longer than this are refused unread: a real one is well under 1 KiB. */
export const MAX_HEARTBEAT_BYTES = 4096;
export const MAX_FIGURES = 32;
const MAX_INSTANCE = 256;
const MAX_VERSION = 64;
const MAX_REASON = 200;
const FIGURE_NAME = /^[A-Za-z][A-Za-z0-9]{0,63}$/;
export const HEARTBEAT_INTERVAL_MS = 2000;

export class ServiceHeartbeatError extends Error {
  override readonly name = 'ServiceHeartbeatError';
  constructor(
    /** The field that broke a rule ('' for the message as a whole). */
    readonly field: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Figures with a name and a finite value; the others are left out rather than sent for every reader to refuse. */
function cleanFigures(f: ServiceFigures): ServiceFigures {
  const out: ServiceFigures = {};
  let n = 0;
  for (const [k, v] of Object.entries(f)) {
    if (n >= MAX_FIGURES) break;
    if (!FIGURE_NAME.test(k) || typeof v !== 'number' || !Number.isFinite(v)) continue;
    out[k] = v;
    n++;
  }
  return out;
}

export function encodeServiceHeartbeat(hb: ServiceHeartbeat): Uint8Array {
  const wire = {
    v: 1,
    kind: hb.kind,
    instance: hb.instance,
    version: hb.version,
    startedAt: hb.startedAt,
    sentAt: hb.sentAt,
    ready: hb.ready === true ? true : hb.ready.slice(0, MAX_REASON),
    ...(hb.leaving ? { leaving: true } : {}),
    figures: cleanFigures(hb.figures),
  };
  return new TextEncoder().encode(JSON.stringify(wire));
}

const fail = (field: string, message: string): never => {
  throw new ServiceHeartbeatError(field, message);
};

function text(o: Record<string, unknown>, field: string, max: number): string {
  const v = o[field];
  if (typeof v !== 'string' || v === '') return fail(field, `${field} must be a non-empty string`);
  if (v.length > max) return fail(field, `${field} is ${v.length} characters; at most ${max}`);
  return v;
}

function time(o: Record<string, unknown>, field: string): number {
  const v = o[field];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) return fail(field, `${field} must be a positive whole number of milliseconds`);
  return v;
}

/** Reads a heartbeat; throws ServiceHeartbeatError naming the first rule it breaks. */
export function decodeServiceHeartbeat(bytes: Uint8Array): ServiceHeartbeat {
  if (bytes.byteLength > MAX_HEARTBEAT_BYTES) fail('', `a heartbeat is at most ${MAX_HEARTBEAT_BYTES} bytes; this one is ${bytes.byteLength}`);
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new ServiceHeartbeatError('', 'a heartbeat must be JSON', { cause: e });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail('', 'a heartbeat must be a JSON object');
  const o = v as Record<string, unknown>;
  if (o.v !== 1) fail('v', `heartbeat version ${JSON.stringify(o.v)} is not understood (1 is)`);
  const kind = o.kind;
  if (typeof kind !== 'string' || !(SERVICE_KINDS as readonly string[]).includes(kind)) fail('kind', `kind ${JSON.stringify(kind)} is none of ${SERVICE_KINDS.join(', ')}`);
  const ready = o.ready;
  if (ready !== true && (typeof ready !== 'string' || ready === '')) fail('ready', 'ready must be true or the reason it is not');
  if (o.leaving !== undefined && typeof o.leaving !== 'boolean') fail('leaving', 'leaving must be a boolean');
  const figures = o.figures ?? {};
  if (typeof figures !== 'object' || figures === null || Array.isArray(figures)) return fail('figures', 'figures must be an object of numbers');
  const entries = Object.entries(figures);
  if (entries.length > MAX_FIGURES) fail('figures', `${entries.length} figures; at most ${MAX_FIGURES}`);
  for (const [name, value] of entries) {
    if (!FIGURE_NAME.test(name)) fail('figures', `figure name ${JSON.stringify(name.slice(0, 80))} is not a plain name`);
    if (typeof value !== 'number' || !Number.isFinite(value)) fail('figures', `figure ${name} is not a finite number`);
  }
  return {
    kind: kind as ServiceKind,
    instance: text(o, 'instance', MAX_INSTANCE),
    version: text(o, 'version', MAX_VERSION),
    startedAt: time(o, 'startedAt'),
    sentAt: time(o, 'sentAt'),
    ready: ready === true ? true : (ready as string).slice(0, MAX_REASON),
    leaving: o.leaving === true,
    figures: Object.fromEntries(entries) as ServiceFigures,
  };
}

export interface HeartbeatOptions {
  nc: NatsConnection;
  kind: ServiceKind;
  instance: string;
  version: string;
  startedAt: number;
  /** The readiness verdict, read at each beat. */
  ready: () => true | string;
  /** The service's figures, read at each beat; a throw sends the beat without them. */
  figures?: () => ServiceFigures | undefined;
  intervalMs?: number;
  now?: () => number;
}

export interface HeartbeatSender {
  /** Sends one now (the timer goes on). */
  beat(): void;
  /** Sends the last one, marked leaving, and stops. */
  stop(): void;
}

/** Sends a heartbeat now and every `intervalMs` (2 s). Publishing never throws: a closed connection drops the beat. */
export function sendHeartbeats(o: HeartbeatOptions): HeartbeatSender {
  const now = o.now ?? Date.now;
  let stopped = false;
  const beat = (leaving: boolean): void => {
    let figures: ServiceFigures = {};
    try {
      figures = o.figures?.() ?? {};
    } catch {
      // A figure that cannot be read this time: the beat still says the process is there.
    }
    let ready: true | string;
    try {
      ready = o.ready();
    } catch (e) {
      ready = `the readiness check failed: ${(e as Error).message}`;
    }
    const hb: ServiceHeartbeat = { kind: o.kind, instance: o.instance, version: o.version, startedAt: o.startedAt, sentAt: now(), ready, leaving, figures };
    try {
      o.nc.publish(SERVICE_HEARTBEAT, encodeServiceHeartbeat(hb));
    } catch {
      // Closed or draining: nobody to tell.
    }
  };
  const timer = setInterval(() => beat(false), o.intervalMs ?? HEARTBEAT_INTERVAL_MS);
  timer.unref();
  beat(false);
  return {
    beat: () => {
      if (!stopped) beat(false);
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      beat(true);
    },
  };
}

/** Every heartbeat of the fleet; a malformed one goes to `onMalformed` instead, and the watch goes on. */
export function watchServiceHeartbeats(nc: NatsConnection, onHeartbeat: (hb: ServiceHeartbeat) => void, onMalformed: (e: ServiceHeartbeatError) => void): Subscription {
  return nc.subscribe(SERVICE_HEARTBEAT, {
    callback: (_err, msg) => {
      let hb: ServiceHeartbeat;
      try {
        hb = decodeServiceHeartbeat(msg.data);
      } catch (e) {
        onMalformed(e instanceof ServiceHeartbeatError ? e : new ServiceHeartbeatError('', String(e), { cause: e }));
        return;
      }
      try {
        onHeartbeat(hb);
      } catch {
        // The listener's fault is its own; the next heartbeats still come.
      }
    },
  });
}
