import http from 'node:http';
import https from 'node:https';
import { trackerKey } from './tracker-gate.js';

/**
 * One keep-alive connection pool per HTTP tracker (scheme, host, port).
 *
 * Seeding thousands of torrents, one tracker hears from us every few
 * seconds: a new TCP (and TLS) handshake for each announce is most of the
 * work, for us and for the tracker. So each tracker gets an Agent that
 * keeps its connections, at most `maxSockets` of them (the per-tracker
 * limit of tracker-gate.ts, so a slot always finds a connection), handed
 * out most recently used first so the extra ones go idle and close.
 *
 * An idle connection is closed after `freeSocketTimeoutMs` (short: under
 * the 5 s keep-alive timeout of Node's own HTTP server, so we close
 * before the server does and never send on a connection it is closing),
 * and idle connections do not keep the process alive (Node unrefs them).
 * destroy() closes every connection at once, on shutdown.
 */

export interface HttpAgentOptions {
  /** Connections to one tracker at most. Default 4. */
  maxSockets?: number;
  /** How long an idle connection is kept. Default 4 s. */
  freeSocketTimeoutMs?: number;
}

export const HTTP_AGENT_DEFAULTS: Required<HttpAgentOptions> = { maxSockets: 4, freeSocketTimeoutMs: 4_000 };

export class TrackerAgents {
  private readonly agents = new Map<string, http.Agent>();
  private readonly o: Required<HttpAgentOptions>;
  private destroyed = false;

  constructor(options: HttpAgentOptions = {}) {
    this.o = { ...HTTP_AGENT_DEFAULTS, ...options };
  }

  /** The pool of the tracker `url` names (created on first use); a fresh connection each time once destroyed. */
  agentFor(url: string): http.Agent | false {
    if (this.destroyed) return false;
    const key = trackerKey(url);
    let agent = this.agents.get(key);
    if (!agent) {
      const options: http.AgentOptions = {
        keepAlive: true,
        maxSockets: this.o.maxSockets,
        maxFreeSockets: this.o.maxSockets,
        // The agent applies `timeout` to idle sockets and destroys them when it passes.
        timeout: this.o.freeSocketTimeoutMs,
        scheduling: 'lifo',
      };
      agent = key.startsWith('https:') ? new https.Agent(options) : new http.Agent(options);
      this.agents.set(key, agent);
    }
    return agent;
  }

  /** Pools in use, for figures and tests. */
  get size(): number {
    return this.agents.size;
  }

  /** Closes every connection, idle or not; later requests get a connection of their own. */
  destroy(): void {
    this.destroyed = true;
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}
