import { useEffect, useState } from 'preact/hooks';
import { ApiError } from './api.js';

/**
 * Short messages at the foot of the page: what failed, in one sentence.
 * A call that needs a login does not toast; it hands over to the login
 * form (`onLoginNeeded`).
 */

interface Toast {
  id: number;
  text: string;
  kind: 'error' | 'info';
}

let toasts: Toast[] = [];
let nextId = 1;
const listeners = new Set<(list: Toast[]) => void>();
const loginListeners = new Set<() => void>();

function publish(): void {
  for (const l of listeners) l(toasts);
}

export function dismiss(id: number): void {
  toasts = toasts.filter((t) => t.id !== id);
  publish();
}

export function notify(text: string, kind: Toast['kind'] = 'error'): void {
  const id = nextId++;
  // The same message again replaces the old one, so a failing poll does not pile them up.
  toasts = [...toasts.filter((t) => t.text !== text), { id, text, kind }].slice(-4);
  publish();
  setTimeout(() => dismiss(id), kind === 'error' ? 8000 : 4000);
}

export function onLoginNeeded(listener: () => void): () => void {
  loginListeners.add(listener);
  return () => loginListeners.delete(listener);
}

/** What to do with a failure: a login form for a 403, a toast naming what failed otherwise. */
export function reportFailure(what: string, e: unknown): void {
  if (e instanceof ApiError) {
    if (e.needsLogin) for (const l of loginListeners) l();
    else notify(`${what}: ${e.message}`);
    return;
  }
  // A fault of the page itself: the details go to the console for whoever debugs it, the person gets a sentence.
  console.warn(what, e);
  notify(`${what}: something went wrong in the page`);
}

/** Runs an action, reporting its failure; resolves to whether it succeeded. */
export async function attempt(what: string, action: () => Promise<unknown>): Promise<boolean> {
  try {
    await action();
    return true;
  } catch (e) {
    reportFailure(what, e);
    return false;
  }
}

export function Toasts() {
  const [list, setList] = useState<Toast[]>(toasts);
  useEffect(() => {
    listeners.add(setList);
    return () => void listeners.delete(setList);
  }, []);
  return (
    <div class="toasts" role="status" aria-live="polite">
      {list.map((t) => (
        <div key={t.id} class={`toast toast-${t.kind}`}>
          <span>{t.text}</span>
          <button type="button" class="icon" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
