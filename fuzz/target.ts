import type { Rng } from './rng.js';

/**
 * One decoder under fuzz. A target is data plus two functions: the seeds
 * it starts from, how to run the decoder on some bytes, and which thrown
 * values are the decoder's own typed errors. Anything else thrown, a case
 * slower than the time bound or a case that grows the heap past the
 * memory bound is a crash.
 *
 * Adding a decoder is one entry in targets/index.ts.
 */
export interface FuzzTarget {
  /** Short and stable: it seeds the case generator, so renaming a target changes its cases. */
  name: string;
  /** What is under test, for the report: the functions called. */
  covers: string;
  /**
   * Real messages to mutate: captured from real clients (fuzz/seeds/) or
   * built with the repo's encoders in the exact shape real clients send.
   * Built once, on first use. Case i < seeds.length is seed i unchanged.
   */
  seeds(): Uint8Array[];
  /** Byte strings the mutator inserts and overwrites with (keys, keywords, separators). */
  tokens?: readonly string[];
  /**
   * A mutation that knows the format (structured.ts): parse the seed, change
   * one node, write it back; undefined when it cannot parse the seed. Used
   * for 40 % of the mutated cases, when present.
   */
  structured?(seed: Uint8Array, rng: Rng): Uint8Array | undefined;
  /** A structured input made from scratch (random bencode with the format's keys, say); random bytes when absent. */
  generate?(rng: Rng): Uint8Array;
  /**
   * Runs the decoder. Returning (or resolving) is "answered a value";
   * the string returned, if any, labels the outcome in the report
   * (`need-more`, `ok`...). A typed error is thrown as it is.
   */
  run(input: Uint8Array): string | void | Promise<string | void>;
  /** True for the values the decoder may throw: its typed errors. */
  isTypedError(err: unknown): boolean;
  /** Largest input handed to the decoder (default 64 KiB); mutations are cut to it. */
  maxInputBytes?: number;
  /** Per-case time bound in ms (default: the run's, 50). */
  timeLimitMs?: number;
}

/** The label of a typed error in the report: its rule (`code`), else its class name. */
export function errorLabel(err: unknown): string {
  if (err && typeof err === 'object') {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const name = (err as { name?: unknown }).name;
    if (typeof name === 'string') return name;
  }
  return typeof err;
}

/**
 * Runs `f`, answering the typed error's label when it throws one: for
 * targets that call several decoders on one input, so that the first
 * decoder's refusal does not keep the input from the others. Any other
 * throw goes through.
 */
export function attempt(f: () => unknown, isTyped: (err: unknown) => boolean): string {
  try {
    f();
    return 'ok';
  } catch (err) {
    if (isTyped(err)) return errorLabel(err);
    throw err;
  }
}

/** Builds the seeds once, on first use: targets are listed at import time, and building every seed then would slow each worker's start. */
export function once<T>(make: () => T): () => T {
  let value: T | undefined;
  let made = false;
  return () => {
    if (!made) {
      value = make();
      made = true;
    }
    return value as T;
  };
}

export const latin1 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
export const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));
