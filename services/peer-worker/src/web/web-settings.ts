import { StartupError, type WebConfig } from '@seedbox/runtime';
import { TrustedProxies } from './trusted-proxies.js';
import { WebAuth } from './web-auth.js';
import { isLoopback } from './web-request.js';

/** The web APIs' settings as start-up rules: each refusal one line naming the setting. */

/** The address to listen on: loopback unless credentials are set; a non-loopback address without them is a start-up error. */
export function webHost(config: WebConfig, auth: Pick<WebAuth, 'required'>): string {
  if (config.webHost === undefined) return auth.required ? '0.0.0.0' : '127.0.0.1';
  if (!auth.required && !isLoopback(config.webHost)) {
    throw new StartupError(
      'SEEDBOX_WEB_HOST (--web-host)',
      `SEEDBOX_WEB_HOST (--web-host) ${config.webHost}: the web APIs would answer anyone there without a login; set SEEDBOX_WEB_USERNAME and SEEDBOX_WEB_PASSWORD (or SEEDBOX_WEB_API_KEYS), or listen on 127.0.0.1`,
    );
  }
  return config.webHost;
}

export function webAuthOf(config: WebConfig): WebAuth {
  if ((config.webUsername === undefined) !== (config.webPassword === undefined)) {
    const missing = config.webUsername === undefined ? 'SEEDBOX_WEB_USERNAME (--web-username)' : 'SEEDBOX_WEB_PASSWORD (--web-password)';
    throw new StartupError(missing, `${missing} is not set: the web login needs both a user name and a password`);
  }
  const apiKeys = (config.webApiKeys ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '');
  return new WebAuth({ username: config.webUsername, password: config.webPassword, apiKeys });
}

export function trustedProxiesOf(config: WebConfig): TrustedProxies {
  try {
    return TrustedProxies.parse(config.webTrustedProxies);
  } catch (e) {
    const setting = 'SEEDBOX_WEB_TRUSTED_PROXIES (--web-trusted-proxies)';
    throw new StartupError(setting, `${setting}: ${(e as Error).message}`, { cause: e });
  }
}
