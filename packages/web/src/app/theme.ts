/**
 * Light or dark: the system's choice (prefers-color-scheme) until the
 * person picks one with the toggle, which is remembered in this browser.
 * `data-theme` on <html> always says which, so the stylesheet holds each
 * palette once, keyed by it alone.
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

/** Sets `data-theme`: the remembered choice, else the system's, following the system while nothing is remembered. */
export function applyTheme(): void {
  const media = matchMedia('(prefers-color-scheme: dark)');
  const apply = (): void => {
    document.documentElement.dataset.theme = stored() ?? (media.matches ? 'dark' : 'light');
  };
  apply();
  media.addEventListener('change', apply);
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
