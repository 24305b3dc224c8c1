// Validate custom resources against their CRD schemas, offline.
// stdin: a JSON array of objects; stdout: a JSON array of {name, error|null}.
import { ScaledObject, TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { ServiceMonitor, PodMonitor, PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import { Certificate } from "@kubernetes-models/cert-manager/cert-manager.io/v1";

const MODELS = {
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
  "keda.sh/v1alpha1/TriggerAuthentication": TriggerAuthentication,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
  "monitoring.coreos.com/v1/PodMonitor": PodMonitor,
  "monitoring.coreos.com/v1/PrometheusRule": PrometheusRule,
  "cert-manager.io/v1/Certificate": Certificate,
};

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = JSON.parse(input).map((obj) => {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const name = `${obj.kind}/${obj.metadata?.name}`;
  const Model = MODELS[key];
  if (!Model) return { name, error: `no validator for ${key}` };
  try {
    new Model(obj).validate();
    return { name, error: null };
  } catch (err) {
    return { name, error: String(err.message ?? err) };
  }
});
process.stdout.write(JSON.stringify(results));
