import { useState } from 'preact/hooks';
import { ApiError, type Api } from './api.js';
import { FormError } from './modal.js';

/** The login form, shown when the API answers 403 (no session, or an expired one). */
export function Login(props: { api: Api; onLoggedIn: () => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState('');

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setMessage('');
    try {
      if (await props.api.login(username, password)) props.onLoggedIn();
      else setMessage('Wrong user name or password.');
    } catch (err) {
      // qBittorrent answers 403 to an address banned after too many failed logins.
      if (err instanceof ApiError && err.status === 403) setMessage('Too many failed logins from this address: try again later.');
      else setMessage(err instanceof ApiError ? err.message : 'The login could not be sent.');
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="login">
      <form class="login-form" onSubmit={submit}>
        <h1>seedbox</h1>
        <label>
          User name
          <input name="username" autocomplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} autoFocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <FormError error={message} />
        <button type="submit" class="primary" disabled={busy}>
          Log in
        </button>
      </form>
    </main>
  );
}
