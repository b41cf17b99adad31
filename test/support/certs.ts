/**
 * Throwaway certificates for TLS tests, made with the openssl CLI (node's
 * crypto can read certificates but not sign them): a CA, a server
 * certificate it signs for localhost and 127.0.0.1, a client certificate it
 * signs, and a client certificate another CA signs (one the server must
 * refuse). EC P-256 keys, one day of validity, all PEM files in `dir`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertFiles {
  cert: string;
  key: string;
}

export interface TestPki {
  dir: string;
  /** The CA that signs `server` and `client`. */
  ca: string;
  server: CertFiles;
  client: CertFiles;
  /** Signed by another CA: a stranger's certificate. */
  stranger: CertFiles;
  /** That other CA. */
  strangerCa: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
}

function newCa(dir: string, name: string): CertFiles {
  const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', files.key, '-out', files.cert],
    dir,
  );
  return files;
}

function issue(dir: string, ca: CertFiles, name: string, extensions: string): CertFiles {
  const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${name}`, '-keyout', files.key, '-out', csr], dir);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '1', '-extfile', ext, '-out', files.cert], dir);
  return files;
}

export function makeTestPki(dir: string, serverNames: readonly string[] = ['DNS:localhost', 'IP:127.0.0.1']): TestPki {
  mkdirSync(dir, { recursive: true });
  const ca = newCa(dir, 'test-ca');
  const other = newCa(dir, 'stranger-ca');
  const server = issue(dir, ca, 'server', `subjectAltName=${serverNames.join(',')}\nextendedKeyUsage=serverAuth\n`);
  const client = issue(dir, ca, 'client', 'extendedKeyUsage=clientAuth\n');
  const stranger = issue(dir, other, 'stranger', 'extendedKeyUsage=clientAuth\n');
  return { dir, ca: ca.cert, server, client, stranger, strangerCa: other.cert };
}
