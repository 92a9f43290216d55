{{/* Names, labels and the checks every install passes. */}}

{{- define "tre.fullname" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "tre.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
app.kubernetes.io/name: tre
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: Helm
app.kubernetes.io/part-of: tre
{{- end -}}

{{/* Selector labels of one component: {{ include "tre.selector" (list . "hub") }} */}}
{{- define "tre.selector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: tre
app.kubernetes.io/instance: {{ $root.Release.Name | quote }}
app.kubernetes.io/component: {{ index . 1 | quote }}
{{- end -}}

{{- define "tre.serverImage" -}}
{{- printf "%s:%s" .Values.image.server.repository (.Values.image.server.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "tre.workspaceImage" -}}
{{- printf "%s:%s" .Values.image.workspace.repository (.Values.image.workspace.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* A generated secret value (base64), kept across upgrades: the live Secret's when it
exists, else a new random one.  {{ include "tre.secretValue" (list . "name" "key") }} */}}
{{- define "tre.secretValue" -}}
{{- $root := index . 0 -}}
{{- $live := lookup "v1" "Secret" $root.Release.Namespace (index . 1) -}}
{{- if and $live $live.data (hasKey $live.data (index . 2)) -}}
{{- index $live.data (index . 2) -}}
{{- else -}}
{{- randAlphaNum 48 | b64enc -}}
{{- end -}}
{{- end -}}

{{/* Like tre.secretValue, but hex (JupyterHub reads JPY_COOKIE_SECRET as hex). */}}
{{- define "tre.secretHex" -}}
{{- $root := index . 0 -}}
{{- $live := lookup "v1" "Secret" $root.Release.Namespace (index . 1) -}}
{{- if and $live $live.data (hasKey $live.data (index . 2)) -}}
{{- index $live.data (index . 2) -}}
{{- else -}}
{{- $hex := "" -}}
{{- range until 64 -}}{{- $hex = printf "%s%x" $hex (randInt 0 16) -}}{{- end -}}
{{- $hex | b64enc -}}
{{- end -}}
{{- end -}}

{{/* The container lock-down every tre pod gets (the workspaces get the same from
workspaces.kube_plan). */}}
{{- define "tre.containerSecurity" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
privileged: false
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "tre.podSecurity" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Environment every tre server process gets: the platform settings.  Secrets only
through secretKeyRef. */}}
{{- define "tre.platformEnv" -}}
- name: TRE_ENVIRONMENT
  value: {{ .Values.environment | quote }}
- name: TRE_PROFILE
  value: {{ .Values.profile | quote }}
- name: TRE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "tre.databaseSecret" . }}
      key: {{ include "tre.databaseKey" . }}
- name: TRE_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "tre.fullname" . }}-secrets
      key: secret-key
{{- end -}}

{{- define "tre.databaseSecret" -}}
{{- if .Values.postgresql.enabled -}}
{{- include "tre.fullname" . }}-database
{{- else -}}
{{- .Values.database.existingSecret -}}
{{- end -}}
{{- end -}}

{{- define "tre.databaseKey" -}}
{{- if .Values.postgresql.enabled -}}url{{- else -}}{{ .Values.database.secretKey }}{{- end -}}
{{- end -}}

{{/* Refuse what would leave the TRE open or broken; each message says what to change. */}}
{{- define "tre.validate" -}}
{{- if and (not .Values.networkPolicy.enabled) (not .Values.insecure.acknowledge) -}}
{{- fail "networkPolicy.enabled=false leaves every workspace free to reach any address (the internet, the cloud metadata service, other workspaces). Keep it true, or set insecure.acknowledge=true to install anyway." -}}
{{- end -}}
{{- if and .Values.airlock.workspaceNetworks (not .Values.networkPolicy.enabled) -}}
{{- fail "airlock.workspaceNetworks needs networkPolicy.enabled=true: without the policies any pod with an address in those networks reaches the airlock and counts as inside a workspace (it may read drafts). Enable the policies, or leave airlock.workspaceNetworks empty (every call outside)." -}}
{{- end -}}
{{- if and .Values.postgresql.enabled .Values.database.existingSecret -}}
{{- fail "both postgresql.enabled and database.existingSecret are set: choose the in-chart trial database or your external one (set postgresql.enabled=false)." -}}
{{- end -}}
{{- if and (not .Values.postgresql.enabled) (not .Values.database.existingSecret) -}}
{{- fail "no database: set database.existingSecret (a Secret holding the PostgreSQL URL) or postgresql.enabled=true for a trial." -}}
{{- end -}}
{{- if and (not .Values.postgresql.enabled) .Values.networkPolicy.enabled (not .Values.database.cidrs) -}}
{{- fail "database.cidrs is empty: name where the external PostgreSQL is (e.g. [10.20.0.5/32]) so the policies let the hub and the airlock reach it." -}}
{{- end -}}
{{- if and (eq .Values.airlock.store.type "s3") (not .Values.airlock.store.s3.bucket) -}}
{{- fail "airlock.store.type=s3 needs airlock.store.s3.bucket." -}}
{{- end -}}
{{- if and (eq .Values.airlock.store.type "s3") (not .Values.airlock.store.s3.existingSecret) -}}
{{- fail "airlock.store.type=s3 needs airlock.store.s3.existingSecret (a Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)." -}}
{{- end -}}
{{- if and (eq .Values.airlock.store.type "s3") .Values.networkPolicy.enabled (not .Values.airlock.store.s3.cidrs) -}}
{{- fail "airlock.store.s3.cidrs is empty: name where the object store is so the airlock's policy lets it through." -}}
{{- end -}}
{{- if and (eq .Values.workspace.dns "mirror") (not .Values.workspace.dnsMirror.ip) -}}
{{- fail "workspace.dns=mirror needs workspace.dnsMirror.ip (the internal mirror's resolver)." -}}
{{- end -}}
{{- if and (eq .Values.environment "production") (eq .Values.hub.authenticator "shared-password") -}}
{{- fail "environment=production refuses the demo's shared password: set hub.authenticator (see docs/authentication.md)." -}}
{{- end -}}
{{- end -}}

{{/* Egress to Kubernetes' own DNS, for the tre servers (never for workspaces). */}}
{{- define "tre.dnsEgress" }}
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: kube-system
      podSelector:
        matchLabels:
          k8s-app: kube-dns
  ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
{{- end }}
{{- define "tre.databaseEgress" }}
{{- if .Values.postgresql.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "tre.selector" (list . "postgresql") | nindent 10 }}
  ports:
    - {protocol: TCP, port: 5432}
{{- else }}
- to:
    {{- range .Values.database.cidrs }}
    - ipBlock:
        cidr: {{ . | quote }}
    {{- end }}
  ports:
    - {protocol: TCP, port: {{ .Values.database.port }}}
{{- end }}
{{- end }}
