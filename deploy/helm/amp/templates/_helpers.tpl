{{/* Names and labels ------------------------------------------------------------------- */}}
{{- define "amp.fullname" -}}
{{- if contains "amp" .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-amp" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "amp.labels" -}}
app.kubernetes.io/name: amp
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: amp
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* selector labels of one component: (dict "root" $ "component" "gateway") */}}
{{- define "amp.selectorLabels" -}}
app.kubernetes.io/name: amp
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "amp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "amp.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "amp.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "amp.secretName" -}}
{{- required "existingSecret is required: a Secret with DATABASE_URL (and NATS_URL without nats.enabled)" .Values.existingSecret -}}
{{- end -}}

{{/* NATS ------------------------------------------------------------------------------- */}}
{{- define "amp.nats.name" -}}{{ include "amp.fullname" . }}-nats{{- end -}}
{{- define "amp.nats.headless" -}}{{ include "amp.fullname" . }}-nats-headless{{- end -}}

{{- define "amp.nats.monitoring" -}}
{{- if .Values.keda.monitoringEndpoint -}}
{{- .Values.keda.monitoringEndpoint -}}
{{- else -}}
{{- printf "%s.%s.svc.cluster.local:8222" (include "amp.nats.headless" .) .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{/*
The subjects each agent consumes, as in libs/contracts/amp_contracts/pipeline.py (CONSUMES); the
durable consumer of (agent, subject) is "<agent>-<subject with dots as dashes>", as in
amp_runtime.agent.durable_name. tests/deploy checks both against the code.
*/}}
{{- define "amp.consumes" -}}
intake: [amp.intake.requested, amp.intake.answered]
planner: [amp.intake.completed, amp.plan.revise]
critics: [amp.plan.proposed]
policy: [amp.critique.completed]
codegen: [amp.policy.evaluated, amp.gate.decided, amp.gate.expire]
validators: [amp.codegen.completed]
{{- end -}}

{{/*
Services that read the bus beside the pipeline (amp_contracts.SUBSCRIBERS): a Deployment like an
agent's, without scaling on consumer lag (webhooks share their work through the database).
*/}}
{{- define "amp.subscribers" -}}
[webhooks]
{{- end -}}

{{/* an agent's values: agentDefaults overlaid with agents.<name>: (dict "root" $ "name" "intake") */}}
{{- define "amp.agentValues" -}}
{{- $own := get .root.Values.agents .name | default dict -}}
{{- toYaml (mergeOverwrite (deepCopy .root.Values.agentDefaults) (deepCopy $own)) -}}
{{- end -}}

{{/* Environment of every platform container ---------------------------------------------- */}}
{{- define "amp.env" -}}
{{- $secret := include "amp.secretName" . -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: DATABASE_URL}
- name: NATS_URL
{{- if .Values.nats.enabled }}
  value: {{ printf "nats://%s:4222" (include "amp.nats.name" .) | quote }}
{{- else }}
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: NATS_URL}
{{- end }}
- name: AMP_STREAM_REPLICAS
  value: {{ .Values.nats.streamReplicas | quote }}
- name: AMP_S3_BUCKET
  value: {{ required "config.s3.bucket is required: artifacts live in S3, not on pod disks" .Values.config.s3.bucket | quote }}
{{- with .Values.config.s3.endpointUrl }}
- name: AMP_S3_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.config.s3.publicEndpointUrl }}
- name: AMP_S3_PUBLIC_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.config.s3.region }}
- name: AWS_DEFAULT_REGION
  value: {{ . | quote }}
{{- end }}
- name: AMP_ARTIFACT_URL_TTL_S
  value: {{ .Values.config.artifactUrlTtlSeconds | quote }}
- name: AMP_SSE_MAX_DURATION_S
  value: {{ .Values.config.sseMaxDurationSeconds | quote }}
- name: AMP_GATE_TTL_S
  value: {{ .Values.config.gateTtlSeconds | quote }}
- name: AMP_LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
{{- with .Values.config.provider }}
- name: AMP_PROVIDER
  value: {{ . | quote }}
{{- end }}
- name: ANTHROPIC_API_KEY
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: ANTHROPIC_API_KEY, optional: true}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: AWS_ACCESS_KEY_ID, optional: true}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: AWS_SECRET_ACCESS_KEY, optional: true}
{{- with .Values.config.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Pod-level settings shared by every platform pod */}}
{{- define "amp.podSpecCommon" -}}
serviceAccountName: {{ include "amp.serviceAccountName" . }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
