{{/*
Object names are "<prefix>-<component>", the prefix being the release name
(or fullnameOverride), so that the control API is reachable at
"<release>-peer-worker:50051" whatever the chart is called.
*/}}
{{- define "seedbox.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "seedbox.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "seedbox.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "peer-worker") */}}
{{- define "seedbox.selectorLabels" -}}
app.kubernetes.io/name: {{ include "seedbox.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Every label of one component's objects: (dict "root" $ "component" "peer-worker") */}}
{{- define "seedbox.labels" -}}
{{ include "seedbox.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: seedbox
helm.sh/chart: {{ include "seedbox.chart" .root }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "seedbox.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "seedbox.claimName" -}}
{{- default (printf "%s-data" (include "seedbox.fullname" .)) .Values.persistence.existingClaim -}}
{{- end -}}

{{- define "seedbox.natsName" -}}
{{- printf "%s-nats" (include "seedbox.fullname" .) -}}
{{- end -}}

{{/*
SEEDBOX_NATS_URL: every bundled server by its stable name (the clients
fail over between them), or the external URL list.
*/}}
{{- define "seedbox.natsUrl" -}}
{{- if .Values.nats.bundled.enabled -}}
{{- $name := include "seedbox.natsName" . -}}
{{- $urls := list -}}
{{- range $i := until (int .Values.nats.bundled.replicas) -}}
{{- $urls = append $urls (printf "nats://%s-%d.%s.%s.svc:4222" $name $i $name $.Release.Namespace) -}}
{{- end -}}
{{- join "," $urls -}}
{{- else -}}
{{- required "nats.url is required when nats.bundled.enabled is false" .Values.nats.url -}}
{{- end -}}
{{- end -}}

{{/*
NATS credentials as env entries, read from nats.auth.existingSecret (a creds
file is mounted: seedbox.secretVolumes), and the TLS files' paths.
*/}}
{{- define "seedbox.natsAuthEnv" -}}
{{- $auth := .Values.nats.auth -}}
{{- if ne $auth.type "none" -}}
{{- $secret := required "nats.auth.existingSecret is required when nats.auth.type is not none" $auth.existingSecret -}}
{{- if eq $auth.type "userPassword" }}
- name: SEEDBOX_NATS_USER
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $auth.userKey }}
- name: SEEDBOX_NATS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $auth.passwordKey }}
{{- else if eq $auth.type "token" }}
- name: SEEDBOX_NATS_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $auth.tokenKey }}
{{- else if eq $auth.type "creds" }}
{{- if .Values.nats.bundled.enabled }}
{{- fail "nats.auth.type creds needs an external NATS (nats.bundled.enabled=false): the bundled server has no accounts to check a creds file against" }}
{{- end }}
- name: SEEDBOX_NATS_CREDS
  value: /etc/seedbox/nats-creds/creds
{{- end }}
{{- end }}
{{- with .Values.nats.tls }}
{{- if .enabled }}
- name: SEEDBOX_NATS_TLS_CA
  value: /etc/seedbox/nats-tls/ca.crt
{{- if .clientAuth }}
- name: SEEDBOX_NATS_TLS_CERT
  value: /etc/seedbox/nats-tls/tls.crt
- name: SEEDBOX_NATS_TLS_KEY
  value: /etc/seedbox/nats-tls/tls.key
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
Who may call the gRPC server, as env entries: the token from its Secret,
and with grpc.tls the mounted certificate (seedbox.secretVolumes).
*/}}
{{- define "seedbox.grpcAccessEnv" -}}
- name: SEEDBOX_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "seedbox.grpcSecretName" . }}
      key: {{ .Values.grpc.auth.tokenKey }}
{{- with .Values.grpc.tls }}
{{- if .enabled }}
- name: SEEDBOX_GRPC_TLS_CERT
  value: /etc/seedbox/grpc-tls/tls.crt
- name: SEEDBOX_GRPC_TLS_KEY
  value: /etc/seedbox/grpc-tls/tls.key
{{- if .clientAuth }}
- name: SEEDBOX_GRPC_TLS_CLIENT_CA
  value: /etc/seedbox/grpc-tls/ca.crt
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
The Secrets the services read as files, as volumes ("volumes") or their
mounts ("mounts"): (dict "root" $ "part" "volumes"). The NATS creds file,
NATS' TLS files, gRPC's TLS files; the paths are the ones the env entries
above name. 0440: the services' group (fsGroup) reads them, no one writes.
*/}}
{{- define "seedbox.secretFiles" -}}
{{- $v := .root.Values -}}
{{- $files := list -}}
{{- if eq $v.nats.auth.type "creds" -}}
{{- $files = append $files (dict "name" "nats-creds" "secret" $v.nats.auth.existingSecret "items" (list (dict "key" $v.nats.auth.credsKey "path" "creds"))) -}}
{{- end -}}
{{- if $v.nats.tls.enabled -}}
{{- $files = append $files (dict "name" "nats-tls" "secret" (required "nats.tls.existingSecret is required when nats.tls.enabled is true" $v.nats.tls.existingSecret)) -}}
{{- end -}}
{{- if $v.grpc.tls.enabled -}}
{{- $files = append $files (dict "name" "grpc-tls" "secret" (required "grpc.tls.existingSecret is required when grpc.tls.enabled is true" $v.grpc.tls.existingSecret)) -}}
{{- end -}}
{{- range $files }}
{{- if eq $.part "volumes" }}
- name: {{ .name }}
  secret:
    secretName: {{ .secret }}
    defaultMode: 288
    {{- with .items }}
    items:
      {{- toYaml . | nindent 6 }}
    {{- end }}
{{- else }}
- name: {{ .name }}
  mountPath: /etc/seedbox/{{ .name }}
  readOnly: true
{{- end }}
{{- end }}
{{- end -}}

{{/* The Secret with the web APIs' credentials: web.auth.existingSecret, or the one the chart makes. */}}
{{- define "seedbox.webSecretName" -}}
{{- default (printf "%s-web-auth" (include "seedbox.fullname" .)) .Values.web.auth.existingSecret -}}
{{- end -}}

{{/*
A secret value the chart keeps in a Secret it makes, in plain text: the one
given in values; else the one already in that Secret (lookup sees it on helm
install/upgrade; helm template and tools that render without the cluster
see nothing); else, when allowed, a new random one; else a rendering error
with the given message. Every call may draw a new random value: call it once
per render for a value, and use the result for the Secret and the pods'
checksum alike. Arguments (a dict):
  root      the top context
  secret    the Secret's name
  key       the key in it
  value     the value from values ("" if none)
  generate  whether to draw a random one
  length    its length
  fail      the error without any
*/}}
{{- define "seedbox.keptSecretValue" -}}
{{- if .value -}}
{{- .value -}}
{{- else -}}
{{- $current := lookup "v1" "Secret" .root.Release.Namespace .secret -}}
{{- $kept := dig "data" .key "" ($current | default dict) -}}
{{- if $kept -}}
{{- b64dec $kept -}}
{{- else if .generate -}}
{{- randAlphaNum (int .length) -}}
{{- else -}}
{{- fail .fail -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The web password of the Secret the chart makes (no web.auth.existingSecret).
Without one, rendering fails: the peer-workers must listen beyond loopback
for the Service, and the program refuses that without credentials.
*/}}
{{- define "seedbox.webPassword" -}}
{{- $auth := .Values.web.auth -}}
{{- include "seedbox.keptSecretValue" (dict "root" . "secret" (include "seedbox.webSecretName" .) "key" $auth.passwordKey "value" $auth.password "generate" $auth.generatePassword "length" 24
  "fail" "web.auth.existingSecret or web.auth.password: the web APIs (qBittorrent WebAPI, Transmission RPC) need credentials to listen beyond loopback; set one of them, or web.auth.generatePassword=true for a random password, or web.enabled=false") -}}
{{- end -}}

{{/* The Secret with the gRPC token: grpc.auth.existingSecret, or the one the chart makes. */}}
{{- define "seedbox.grpcSecretName" -}}
{{- default (printf "%s-grpc-auth" (include "seedbox.fullname" .)) .Values.grpc.auth.existingSecret -}}
{{- end -}}

{{/*
The gRPC token of the Secret the chart makes (no grpc.auth.existingSecret).
Without one, rendering fails: the services must listen beyond loopback for
the control Service, and the program refuses that without a token.
*/}}
{{- define "seedbox.grpcToken" -}}
{{- $auth := .Values.grpc.auth -}}
{{- include "seedbox.keptSecretValue" (dict "root" . "secret" (include "seedbox.grpcSecretName" .) "key" $auth.tokenKey "value" $auth.token "generate" $auth.generateToken "length" 40
  "fail" "grpc.auth.existingSecret or grpc.auth.token: the gRPC control API needs a token to listen beyond loopback; set one of them, or grpc.auth.generateToken=true for a random token") -}}
{{- end -}}

{{/* The port trackers give out for the peer-workers, by peerAccess.mode. */}}
{{- define "seedbox.announcePort" -}}
{{- $pw := .Values.peerWorker -}}
{{- if not (kindIs "invalid" $pw.announcePort) -}}
{{- $pw.announcePort -}}
{{- else if eq $pw.peerAccess.mode "hostPort" -}}
{{- $pw.peerAccess.hostPort -}}
{{- else if eq $pw.peerAccess.mode "nodePort" -}}
{{- $pw.peerAccess.nodePort -}}
{{- else -}}
{{- $pw.peerAccess.servicePort -}}
{{- end -}}
{{- end -}}

{{/*
The hardened container securityContext every container of the chart runs
with: no privilege escalation, no capabilities, a read-only root (the pods
get an emptyDir at /tmp), the runtime's default seccomp profile.
*/}}
{{- define "seedbox.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "seedbox.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.fsGroup }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Pod anti-affinity from a preset: (dict "root" $ "component" "peer-worker" "preset" "soft") */}}
{{- define "seedbox.affinity" -}}
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (include "seedbox.selectorLabels" . | fromYaml)) -}}
{{- if eq .preset "soft" }}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        {{- toYaml $term | nindent 8 }}
{{- else if eq .preset "hard" }}
podAntiAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    - {{- toYaml $term | nindent 6 }}
{{- end }}
{{- end -}}

{{/*
One service's Deployment. Arguments (a dict):
  root       the top context
  component  peer-worker, disk-writer or tracker-client
  values     the component's values
  env        this component's own env entries (a list of dicts)
  ports      its extra container ports (a list of dicts)
  data       "" (no data volume), "ro" or "rw"
  annotations  pod annotations of the chart's own (a dict; optional), next to the values' podAnnotations
*/}}
{{- define "seedbox.deployment" -}}
{{- $root := .root -}}
{{- $v := .values -}}
{{- $ctx := dict "root" $root "component" .component -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "seedbox.fullname" $root }}-{{ .component }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "seedbox.labels" $ctx | nindent 4 }}
spec:
  {{- if not (and $v.autoscaling $v.autoscaling.enabled) }}
  replicas: {{ $v.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "seedbox.selectorLabels" $ctx | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "seedbox.labels" $ctx | nindent 8 }}
        {{- with $v.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with merge (dict) (.annotations | default dict) ($v.podAnnotations | default dict) }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      # The services never talk to the Kubernetes API.
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ add (div (add (int $root.Values.shutdownTimeoutMs) 999) 1000) 5 }}
      securityContext:
        {{- include "seedbox.podSecurityContext" $root | nindent 8 }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with include "seedbox.affinity" (dict "root" $root "component" .component "preset" $v.antiAffinity) | trim }}
      affinity:
        {{- . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "seedbox.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command: ["node", "services/{{ .component }}/dist/main.js"]
          env:
            - name: SEEDBOX_INSTANCE_ID
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: SEEDBOX_NATS_URL
              value: {{ include "seedbox.natsUrl" $root | quote }}
            {{- with include "seedbox.natsAuthEnv" $root | trim }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- include "seedbox.grpcAccessEnv" $root | trim | nindent 12 }}
            - name: SEEDBOX_METRICS_PORT
              value: {{ $root.Values.metrics.port | int | quote }}
            - name: SEEDBOX_GRPC_PORT
              value: {{ $root.Values.grpc.port | int | quote }}
            - name: SEEDBOX_LOG_LEVEL
              value: {{ $root.Values.logLevel | quote }}
            - name: SEEDBOX_SHUTDOWN_TIMEOUT_MS
              value: {{ $root.Values.shutdownTimeoutMs | int | quote }}
            {{- if .data }}
            - name: SEEDBOX_DATA_DIR
              value: {{ $root.Values.persistence.mountPath | quote }}
            {{- end }}
            {{- with .env }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- with $v.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports:
            - name: grpc
              containerPort: {{ $root.Values.grpc.port }}
              protocol: TCP
            - name: metrics
              containerPort: {{ $root.Values.metrics.port }}
              protocol: TCP
            {{- with .ports }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          # /healthz: the process is alive; /readyz: connected and able to
          # take work. The startup probe gives a slow start (a JetStream
          # bucket being created, a big volume) a minute before liveness.
          startupProbe:
            httpGet:
              path: /healthz
              port: metrics
            periodSeconds: 2
            failureThreshold: 30
          livenessProbe:
            httpGet:
              path: /healthz
              port: metrics
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          readinessProbe:
            httpGet:
              path: /readyz
              port: metrics
            periodSeconds: 5
            timeoutSeconds: 3
            failureThreshold: 2
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- include "seedbox.containerSecurityContext" $root | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if .data }}
            - name: data
              mountPath: {{ $root.Values.persistence.mountPath }}
              readOnly: {{ eq .data "ro" }}
            {{- end }}
            {{- with include "seedbox.secretFiles" (dict "root" $root "part" "mounts") | trim }}
            {{- . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 256Mi
        {{- with include "seedbox.secretFiles" (dict "root" $root "part" "volumes") | trim }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- if .data }}
        - name: data
          persistentVolumeClaim:
            claimName: {{ include "seedbox.claimName" $root }}
        {{- end }}
{{- end -}}

{{/* A PodDisruptionBudget: (dict "root" $ "component" "peer-worker" "values" .Values.peerWorker) */}}
{{- define "seedbox.pdb" -}}
{{- $pdb := .values.podDisruptionBudget -}}
{{- if $pdb.enabled -}}
{{- $ctx := dict "root" .root "component" .component -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "seedbox.fullname" .root }}-{{ .component }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "seedbox.labels" $ctx | nindent 4 }}
spec:
  {{- if not (kindIs "invalid" $pdb.minAvailable) }}
  minAvailable: {{ $pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ $pdb.maxUnavailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "seedbox.selectorLabels" $ctx | nindent 6 }}
{{- end -}}
{{- end -}}

{{/* An autoscaling/v2 HPA: (dict "root" $ "component" "peer-worker" "values" .Values.peerWorker) */}}
{{- define "seedbox.hpa" -}}
{{- $a := .values.autoscaling -}}
{{- if $a.enabled -}}
{{- $ctx := dict "root" .root "component" .component -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "seedbox.fullname" .root }}-{{ .component }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "seedbox.labels" $ctx | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "seedbox.fullname" .root }}-{{ .component }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
    {{- if not (kindIs "invalid" $a.targetMemoryUtilizationPercentage) }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ $a.targetMemoryUtilizationPercentage }}
    {{- end }}
{{- end -}}
{{- end -}}

{{/* A metrics Service: (dict "root" $ "component" "peer-worker") */}}
{{- define "seedbox.metricsService" -}}
{{- $ctx := dict "root" .root "component" .component -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "seedbox.fullname" .root }}-{{ .component }}-metrics
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "seedbox.labels" $ctx | nindent 4 }}
    seedbox-metrics: "true"
  annotations:
    prometheus.io/scrape: "true"
    prometheus.io/port: {{ .root.Values.metrics.port | quote }}
    prometheus.io/path: /metrics
spec:
  type: ClusterIP
  selector:
    {{- include "seedbox.selectorLabels" $ctx | nindent 4 }}
  ports:
    - name: metrics
      port: {{ .root.Values.metrics.port }}
      targetPort: metrics
      protocol: TCP
{{- end -}}

{{/*
An ingress-only NetworkPolicy for one component's pods. Each rule lets
`from` (NetworkPolicyPeers) reach `ports` (container port names); a rule
with "anywhere" true lets every source in. A rule whose `from` is empty is
left out, so that an empty list closes its ports rather than opening them
(a rule without `from` would let everyone in). Arguments (a dict):
  root       the top context
  component  the pods' component label
  rules      a list of (dict "ports" (list "grpc") "from" (list ...) "anywhere" false)
*/}}
{{- define "seedbox.networkPolicy" -}}
{{- $ctx := dict "root" .root "component" .component -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "seedbox.fullname" .root }}-{{ .component }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "seedbox.labels" $ctx | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "seedbox.selectorLabels" $ctx | nindent 6 }}
  policyTypes:
    - Ingress
  ingress:
    {{- range .rules }}
    {{- if or .anywhere .from }}
    {{- $protocol := .protocol | default "TCP" }}
    - ports:
        {{- range .ports }}
        - port: {{ . }}
          protocol: {{ $protocol }}
        {{- end }}
      {{- if not .anywhere }}
      from:
        {{- toYaml .from | nindent 8 }}
      {{- end }}
    {{- end }}
    {{- end }}
{{- end -}}

{{/* A NetworkPolicyPeer: the pods of this release (every component, the helm test pod too); or of one component with (dict "root" $ "component" "test"). */}}
{{- define "seedbox.releasePods" -}}
{{- $root := .root | default . -}}
podSelector:
  matchLabels:
    app.kubernetes.io/name: {{ include "seedbox.name" $root }}
    app.kubernetes.io/instance: {{ $root.Release.Name }}
    {{- with .component }}
    app.kubernetes.io/component: {{ . }}
    {{- end }}
{{- end -}}
