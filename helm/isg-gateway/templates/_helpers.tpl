{{/*
Names: Kubernetes allows 63 characters in a label value and a DNS label, so every name is
cut to 63 (less the suffix a component adds) and loses a trailing hyphen.
*/}}
{{- define "isg.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "isg.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* A component's name: the full name, cut so that "-<component>" still fits in 63. */}}
{{- define "isg.componentName" -}}
{{- $root := index . 0 }}{{- $component := index . 1 }}
{{- $room := sub 62 (len $component) | int }}
{{- printf "%s-%s" (include "isg.fullname" $root | trunc $room | trimSuffix "-") $component }}
{{- end }}

{{- define "isg.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The standard labels (app.kubernetes.io/*). */}}
{{- define "isg.labels" -}}
helm.sh/chart: {{ include "isg.chart" . }}
{{ include "isg.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: isg-gateway
{{- end }}

{{- define "isg.selectorLabels" -}}
app.kubernetes.io/name: {{ include "isg.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels and selector labels of one component: api, relay, migrations. */}}
{{- define "isg.componentLabels" -}}
{{ include "isg.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "isg.componentSelector" -}}
{{ include "isg.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "isg.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "isg.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "isg.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* One setting's value as its environment variable: strings as they are, everything else
as JSON (numbers without an exponent, lists and maps as pydantic-settings reads them). */}}
{{- define "isg.envValue" -}}
{{- if kindIs "string" . }}{{ . | quote }}{{ else }}{{ toJson . | quote }}{{ end }}
{{- end }}

{{- define "isg.secretName" -}}
{{- if .Values.secrets.existingSecret }}{{ .Values.secrets.existingSecret }}{{ else }}{{ include "isg.componentName" (list . "env") }}{{ end }}
{{- end }}

{{- define "isg.hasSecretEnv" -}}
{{- if or .Values.secrets.existingSecret .Values.secrets.env }}true{{ end }}
{{- end }}

{{- define "isg.policyDir" -}}
{{- if eq .Values.policies.source "gitSync" }}
{{- printf "/etc/isg/policies/current/%s" .Values.policies.gitSync.subPath | trimSuffix "/" }}
{{- else }}/etc/isg/policies{{ end }}
{{- end }}

{{- define "isg.registrationsSecret" -}}
{{- if .Values.partners.registrations.existingSecret }}{{ .Values.partners.registrations.existingSecret }}{{ else }}{{ include "isg.componentName" (list . "registrations") }}{{ end }}
{{- end }}

{{- define "isg.hasRegistrations" -}}
{{- if or .Values.partners.registrations.existingSecret .Values.partners.registrations.clients }}true{{ end }}
{{- end }}

{{/*
The environment every gateway container shares: the settings, the paths of what the chart
mounts, and the secrets.
*/}}
{{- define "isg.env" -}}
- name: GATEWAY_DATA_DIR
  value: /var/lib/isg
- name: GATEWAY_POLICY_DIR
  value: {{ include "isg.policyDir" . | quote }}
{{- range $name, $value := .Values.settings }}
{{- if not (kindIs "invalid" $value) }}
- name: {{ printf "GATEWAY_%s" (upper $name) }}
  value: {{ include "isg.envValue" $value }}
{{- end }}
{{- end }}
{{- range $name, $value := .Values.notify }}
{{- if not (kindIs "invalid" $value) }}
- name: {{ printf "GATEWAY_NOTIFY_%s" (upper $name) }}
  value: {{ include "isg.envValue" $value }}
{{- end }}
{{- end }}
{{- if .Values.partners.delivery }}
- name: GATEWAY_PARTNERS_FILE
  value: /etc/isg/partners/partners.yaml
{{- end }}
{{- if include "isg.hasRegistrations" . }}
- name: GATEWAY_CLIENTS_FILE
  value: /etc/isg/registrations/clients.yaml
{{- end }}
{{- if .Values.tokenSigningKeys.existingSecret }}
- name: GATEWAY_TOKEN_SIGNING_KEYS_FILE
  value: /etc/isg/token-signing/token-signing.json
- name: GATEWAY_TOKEN_SIGNING_KEYS_READ_ONLY
  value: "true"
{{- end }}
{{- with .Values.kafka.tls.caSecret }}{{ if .name }}
- name: GATEWAY_KAFKA_SSL_CA_FILE
  value: /etc/isg/kafka-ca/{{ .key }}
{{- end }}{{ end }}
{{- with .Values.kafka.tls.clientSecret }}{{ if .name }}
- name: GATEWAY_KAFKA_SSL_CERT_FILE
  value: /etc/isg/kafka-client/{{ .certKey }}
- name: GATEWAY_KAFKA_SSL_KEY_FILE
  value: /etc/isg/kafka-client/{{ .keyKey }}
{{- end }}{{ end }}
{{- with .Values.postgresql.tls.caSecret }}{{ if .name }}
- name: GATEWAY_DATABASE_SSL_ROOT_CERT_FILE
  value: /etc/isg/postgresql-ca/{{ .key }}
{{- end }}{{ end }}
{{- with .Values.postgresql.tls.clientSecret }}{{ if .name }}
- name: GATEWAY_DATABASE_SSL_CERT_FILE
  value: /etc/isg/postgresql-client/{{ .certKey }}
- name: GATEWAY_DATABASE_SSL_KEY_FILE
  value: /etc/isg/postgresql-client/{{ .keyKey }}
{{- end }}{{ end }}
{{- $ownUrl := and .forMigrations .Values.migrations.databaseUrlSecret.name }}
{{- range $name, $ref := .Values.secrets.fromSecrets }}
{{- if not (and $ownUrl (eq $name "GATEWAY_DATABASE_URL")) }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.name }}
      key: {{ $ref.key }}
{{- end }}
{{- end }}
{{- if $ownUrl }}
# The operator's role, which owns the tables (the pods' role may only insert into the audit trail).
- name: GATEWAY_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.migrations.databaseUrlSecret.name }}
      key: {{ .Values.migrations.databaseUrlSecret.key }}
{{- end }}
{{- end }}

{{- define "isg.envFrom" -}}
{{- if include "isg.hasSecretEnv" . }}
envFrom:
  - secretRef:
      name: {{ include "isg.secretName" . }}
{{- end }}
{{- end }}

{{/* Volumes every gateway pod mounts: /tmp and the data directory (the root filesystem is
read-only), the policies, the partners' files, the keys and the certificates. */}}
{{- define "isg.volumes" -}}
- name: tmp
  emptyDir: {sizeLimit: 256Mi}
- name: data
  emptyDir: {sizeLimit: 256Mi}
{{- with .Values.postgresql.tls.caSecret }}{{ if .name }}
- name: postgresql-ca
  secret: {secretName: {{ .name }}, defaultMode: 0444}
{{- end }}{{ end }}
{{- with .Values.postgresql.tls.clientSecret }}{{ if .name }}
- name: postgresql-client
  secret: {secretName: {{ .name }}, defaultMode: 0400}
{{- end }}{{ end }}
{{- end }}

{{/* What the API and the relays read besides: policies, partners, keys, Kafka's certificates. */}}
{{- define "isg.appVolumes" -}}
{{- if eq .Values.policies.source "configMap" }}
- name: policies
  configMap:
    name: {{ include "isg.componentName" (list . "policies") }}
    {{- with .Values.policies.files }}
    items:
      {{- range $path, $_ := . }}
      - key: {{ $path | replace "/" "__" }}
        path: {{ $path }}
      {{- end }}
    {{- end }}
{{- else if eq .Values.policies.source "existingConfigMap" }}
- name: policies
  configMap:
    name: {{ .Values.policies.existingConfigMap }}
    {{- with .Values.policies.items }}
    items:
      {{- range $key, $path := . }}
      - key: {{ $key }}
        path: {{ $path }}
      {{- end }}
    {{- end }}
{{- else }}
- name: policies
  emptyDir: {sizeLimit: 64Mi}
{{- if .Values.policies.gitSync.existingSecret }}
- name: git-credentials
  secret:
    secretName: {{ .Values.policies.gitSync.existingSecret }}
    defaultMode: 0400
{{- end }}
{{- end }}
{{- if .Values.partners.delivery }}
- name: partners
  configMap:
    name: {{ include "isg.componentName" (list . "partners") }}
{{- end }}
{{- if include "isg.hasRegistrations" . }}
- name: registrations
  secret:
    secretName: {{ include "isg.registrationsSecret" . }}
    defaultMode: 0400
{{- end }}
{{- if .Values.tokenSigningKeys.existingSecret }}
- name: token-signing
  secret:
    secretName: {{ .Values.tokenSigningKeys.existingSecret }}
    defaultMode: 0400
{{- end }}
{{- with .Values.kafka.tls.caSecret }}{{ if .name }}
- name: kafka-ca
  secret: {secretName: {{ .name }}, defaultMode: 0444}
{{- end }}{{ end }}
{{- with .Values.kafka.tls.clientSecret }}{{ if .name }}
- name: kafka-client
  secret: {secretName: {{ .name }}, defaultMode: 0400}
{{- end }}{{ end }}
{{- end }}

{{- define "isg.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: /var/lib/isg
{{- if .Values.postgresql.tls.caSecret.name }}
- name: postgresql-ca
  mountPath: /etc/isg/postgresql-ca
  readOnly: true
{{- end }}
{{- if .Values.postgresql.tls.clientSecret.name }}
- name: postgresql-client
  mountPath: /etc/isg/postgresql-client
  readOnly: true
{{- end }}
{{- end }}

{{- define "isg.appVolumeMounts" -}}
- name: policies
  mountPath: /etc/isg/policies
  readOnly: true
{{- if .Values.partners.delivery }}
- name: partners
  mountPath: /etc/isg/partners
  readOnly: true
{{- end }}
{{- if include "isg.hasRegistrations" . }}
- name: registrations
  mountPath: /etc/isg/registrations
  readOnly: true
{{- end }}
{{- if .Values.tokenSigningKeys.existingSecret }}
- name: token-signing
  mountPath: /etc/isg/token-signing
  readOnly: true
{{- end }}
{{- if .Values.kafka.tls.caSecret.name }}
- name: kafka-ca
  mountPath: /etc/isg/kafka-ca
  readOnly: true
{{- end }}
{{- if .Values.kafka.tls.clientSecret.name }}
- name: kafka-client
  mountPath: /etc/isg/kafka-client
  readOnly: true
{{- end }}
{{- end }}

{{/* git-sync: once before the gateway starts (the bundle must be there), then beside it. */}}
{{- define "isg.gitSync" -}}
{{- $root := index . 0 }}{{- $oneTime := index . 1 }}
{{- $g := $root.Values.policies.gitSync }}
- name: {{ if $oneTime }}git-sync-init{{ else }}git-sync{{ end }}
  image: "{{ $g.image.repository }}:{{ $g.image.tag }}"
  imagePullPolicy: {{ $g.image.pullPolicy }}
  args:
    - --repo={{ $g.repo }}
    - --ref={{ $g.ref }}
    - --root=/etc/isg/policies
    - --link=current
    - --period={{ $g.periodSeconds }}s
    {{- if $oneTime }}
    - --one-time
    {{- end }}
    {{- if $g.sshKeyKey }}
    - --ssh-key-file=/etc/git-secret/{{ $g.sshKeyKey }}
    - --ssh-known-hosts-file=/etc/git-secret/known_hosts
    {{- end }}
  env:
    - name: HOME
      value: /tmp
  {{- if and $g.existingSecret (not $g.sshKeyKey) }}
  envFrom:
    - secretRef:
        name: {{ $g.existingSecret }}
  {{- end }}
  securityContext:
    {{- toYaml $root.Values.securityContext | nindent 4 }}
  resources:
    {{- toYaml $g.resources | nindent 4 }}
  volumeMounts:
    - name: policies
      mountPath: /etc/isg/policies
    - name: tmp
      mountPath: /tmp
    {{- if and $g.existingSecret $g.sshKeyKey }}
    - name: git-credentials
      mountPath: /etc/git-secret
      readOnly: true
    {{- end }}
{{- end }}

{{- define "isg.podSecurity" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
automountServiceAccountToken: false
enableServiceLinks: false
{{- end }}

{{/* A checksum of what the pods read at start, so a changed ConfigMap or Secret rolls them. */}}
{{- define "isg.configChecksum" -}}
{{- $parts := list (toJson .Values.settings) (toJson .Values.notify) (toJson .Values.secrets) (toJson .Values.policies.files) (toJson .Values.partners) -}}
{{- join "\n" $parts | sha256sum -}}
{{- end }}
