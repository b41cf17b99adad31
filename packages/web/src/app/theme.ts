/**
 * Light or dark: the system's choice (prefers-color-scheme) until the
 * person picks one with the toggle, which is remembered in this browser.
 * The stylesheet reads `data-theme` on <html> when it is set.
 */

export type Theme = 'light' | 'dark';

const KEY = 'seedbox.theme';

function stored(): Theme | undefined {
  try {
    const v = localStorage.getItem(KEY);
    return v === 'light' || v === 'dark' ? v : undefined;
  } catch {
    return undefined;
  }
}

export function currentTheme(): Theme {
  return stored() ?? (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
}

export function applyStoredTheme(): void {
  const t = stored();
  if (t) document.documentElement.dataset.theme = t;
}

/** Switches to the other theme and remembers it; answers the new one. */
export function toggleTheme(): Theme {
  const next: Theme = currentTheme() === 'dark' ? 'light' : 'dark';
  document.documentElement.dataset.theme = next;
  try {
    localStorage.setItem(KEY, next);
  } catch {
    // Storage off (private mode): the choice lasts until the page is left.
  }
  return next;
}
