import { render } from 'preact';
import { App } from './app.js';
import { applyTheme } from './theme.js';
import { notify } from './toasts.js';
import './styles.css';

/**
 * The entry point esbuild bundles. A fault of the page itself becomes a
 * short message, never a stack trace on screen (the details stay in the
 * browser's console for whoever debugs it).
 */

applyTheme();
window.addEventListener('unhandledrejection', (e) => {
  e.preventDefault();
  console.warn('unhandled rejection', e.reason);
  notify('Something went wrong in the page; reloading it may help');
});
window.addEventListener('error', (e) => {
  console.warn('page error', e.error ?? e.message);
  notify('Something went wrong in the page; reloading it may help');
});

render(<App />, document.getElementById('app')!);
