# W2 for regorus, side by side with bench/rules/admission.regie: the same rules over one
# AdmissionReview (input) and the bench catalogue (data.bench, built by bench/run.py).
package bench.w2

import rego.v1

cat := data.bench

eu := {c | some c in cat.eu}

obj := input.request.object

labels := object.get(obj.metadata, "labels", {})

annotations := object.get(obj.metadata, "annotations", {})

pod := obj.spec.template.spec

vital if labels.vital == "true"

containers := array.concat(object.get(pod, "initContainers", []), pod.containers)

security(c) := object.get(c, "securityContext", {})

limits(c) := object.get(object.get(c, "resources", {}), "limits", {})

has_key(o, k) if _ = o[k]

# --- per container --------------------------------------------------------------------------

allowed_image(image) if {
	some prefix in cat.registries
	startswith(image, prefix)
}

deny contains ["A01", c.name] if {
	some c in containers
	not allowed_image(c.image)
}

deny contains ["A02", c.name] if {
	vital
	some c in containers
	not contains(c.image, "@sha256:")
}

deny contains ["A03", c.name] if {
	some c in containers
	endswith(c.image, ":latest")
}

deny contains ["A03", c.name] if {
	some c in containers
	not contains(c.image, ":")
}

deny contains ["A04", c.name] if {
	some c in containers
	not has_key(limits(c), "memory")
}

deny contains ["A05", c.name] if {
	some c in containers
	not has_key(limits(c), "cpu")
}

deny contains ["A06", c.name] if {
	some c in containers
	security(c).privileged == true
}

runs_as_non_root(c) if security(c).runAsNonRoot == true

runs_as_non_root(c) if {
	object.get(security(c), "runAsNonRoot", null) == null
	object.get(pod, "securityContext", {}).runAsNonRoot == true
}

deny contains ["A07", c.name] if {
	some c in containers
	not runs_as_non_root(c)
}

escalation_off(c) if security(c).allowPrivilegeEscalation == false

deny contains ["A08", c.name] if {
	some c in containers
	not escalation_off(c)
}

model_allowed(e) if e.value in cat.models

deny contains ["A14", c.name] if {
	some c in containers
	some e in object.get(c, "env", [])
	e.name == "AI_MODEL"
	not model_allowed(e)
}

# --- the deployment -------------------------------------------------------------------------

deny contains ["A09", "deployment"] if pod.hostNetwork == true

deny contains ["A10", "deployment"] if not has_key(labels, "service")

deny contains ["A10", "deployment"] if not has_key(labels, "classification")

known_level(c) if c in cat.classifications

deny contains ["A11", "deployment"] if {
	c := labels.classification
	not known_level(c)
}

deny contains ["A12", "deployment"] if {
	vital
	not has_key(annotations, "regie.example.eu/exit-plan")
}

deny contains ["A13", "deployment"] if {
	vital
	object.get(obj.spec, "replicas", 1) < 2
}

data_region_in_eu if cat.bare_regions[annotations["regie.example.eu/data-region"]] in eu

deny contains ["A15", "deployment"] if {
	labels.classification in cat.levels
	not data_region_in_eu
}
