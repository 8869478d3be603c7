# W1 for regorus, side by side with bench/rules/sovereignty.regie: the same rules, over the
# raw Terraform state (input) and the bench catalogue (data.bench, built by bench/run.py from
# bench/catalog). Read like Regie's Terraform connector: managed, current instances; quoted
# string keys; the provider key from the provider address; regions as `provider/region`.
package bench.w1

import rego.v1

cat := data.bench

eu := {c | some c in cat.eu}

# --- the instances, normalised once ---------------------------------------------------------

instances := [i |
	some res in input.resources
	res.mode == "managed"
	some inst in res.instances
	not inst.deposed
	i := {
		"addr": concat("", [module_prefix(res), res.type, ".", res.name, key_suffix(inst)]),
		"type": res.type,
		"prov": provider_key(res.provider),
		"a": inst.attributes,
	}
]

module_prefix(res) := concat("", [res.module, "."]) if res.module
else := ""

key_suffix(inst) := concat("", ["[\"", inst.index_key, "\"]"]) if is_string(inst.index_key)
else := sprintf("[%d]", [inst.index_key]) if is_number(inst.index_key)
else := ""

provider_key(p) := name if {
	contains(p, "provider[\"")
	source := split(split(p, "provider[\"")[1], "\"]")[0]
	parts := split(source, "/")
	name := parts[count(parts) - 1]
} else := split(split(p, "provider.")[1], ".")[0]

tags(a) := a.tags if a.tags != null
else := a.labels if a.labels != null

region(a) := a.region if a.region != null
else := a.location if a.location != null
else := a.zone if a.zone != null

has_key(obj, k) if _ = obj[k]

in_eu(country) if country in eu

provider_in_eu(prov) if cat.providers[prov].parent_jurisdiction in eu

is_true(x) if x == true

# --- per instance ---------------------------------------------------------------------------

violations contains ["R01", i.addr] if {
	some i in instances
	tags(i.a).classification in cat.levels
	not provider_in_eu(i.prov)
}

violations contains ["R02", i.addr] if {
	some i in instances
	country := cat.regions[concat("/", [i.prov, region(i.a)])]
	not in_eu(country)
}

violations contains ["R03", i.addr] if {
	some i in instances
	r := region(i.a)
	not has_key(cat.regions, concat("/", [i.prov, r]))
}

has_exit_plan(t) if t.exit_plan != ""

violations contains ["R04", i.addr] if {
	some i in instances
	t := tags(i.a)
	t.vital == "true"
	not has_exit_plan(t)
}

encryption_flag := {
	"aws_ebs_volume": "encrypted",
	"aws_db_instance": "storage_encrypted",
	"azurerm_storage_account": "infrastructure_encryption_enabled",
}

violations contains ["R05", i.addr] if {
	some i in instances
	flag := encryption_flag[i.type]
	not is_true(i.a[flag])
}

encryption_block := {"aws_s3_bucket": "server_side_encryption_configuration", "google_storage_bucket": "encryption"}

non_empty(x) if count(x) > 0

violations contains ["R06", i.addr] if {
	some i in instances
	block := encryption_block[i.type]
	not non_empty(i.a[block])
}

violations contains ["R07", i.addr] if {
	some i in instances
	i.type in {"aws_s3_bucket", "scaleway_object_bucket"}
	i.a.acl in {"public-read", "public-read-write"}
}

blocks_public(a) if {
	a.block_public_acls == true
	a.block_public_policy == true
}

violations contains ["R08", i.addr] if {
	some i in instances
	i.type == "aws_s3_bucket_public_access_block"
	not blocks_public(i.a)
}

violations contains ["R09", i.addr] if {
	some i in instances
	i.type == "google_storage_bucket"
	not i.a.public_access_prevention == "enforced"
}

violations contains ["R09", i.addr] if {
	some i in instances
	i.type == "azurerm_storage_account"
	i.a.allow_nested_items_to_be_public == true
}

model(i) := i.a.foundation_model if i.type == "aws_bedrockagent_agent"

model(i) := i.a.model[0].name if i.type == "azurerm_cognitive_deployment"

model(i) := i.a.model_name if i.type == "scaleway_inference_deployment"

# A helper rule, so that an undefined model is "not allowed" in every engine.
model_allowed(i) if model(i) in cat.models

violations contains ["R10", i.addr] if {
	some i in instances
	i.type in {"aws_bedrockagent_agent", "azurerm_cognitive_deployment", "scaleway_inference_deployment"}
	not model_allowed(i)
}

violations contains ["R11", i.addr] if {
	some i in instances
	i.type == "aws_instance"
	is_string(i.a.instance_type)
	some prefix in ["t2.", "m4.", "c4."]
	startswith(i.a.instance_type, prefix)
}

violations contains ["R11", i.addr] if {
	some i in instances
	i.type == "hcloud_server"
	i.a.server_type in {"cx11", "cx21"}
}

violations contains ["R11", i.addr] if {
	some i in instances
	i.type == "azurerm_linux_virtual_machine"
	is_string(i.a.size)
	startswith(i.a.size, "Standard_A")
}

violations contains ["R12", i.addr] if {
	some i in instances
	t := tags(i.a)
	not has_key(t, "service")
}

violations contains ["R12", i.addr] if {
	some i in instances
	t := tags(i.a)
	not has_key(t, "classification")
}

known_level(c) if c in cat.classifications

violations contains ["R13", i.addr] if {
	some i in instances
	c := tags(i.a).classification
	c != null
	not known_level(c)
}

violations contains ["R14", i.addr] if {
	some i in instances
	i.type == "aws_db_instance"
	i.a.publicly_accessible == true
}

violations contains ["R14", i.addr] if {
	some i in instances
	i.type == "azurerm_postgresql_flexible_server"
	i.a.public_network_access_enabled == true
}

# --- R15: per service, the share of its largest provider ------------------------------------
# Rego has no group-by, and filtering all instances per service is quadratic. Instead the
# (service, provider) pairs are sorted once; a service is then a run of the sorted list, and
# each of its providers a run inside it: counts are run lengths, found by index arithmetic.

vital_services := {t.service |
	some i in instances
	t := tags(i.a)
	t.vital == "true"
	is_string(t.service)
}

pairs := sort([[t.service, i.prov] |
	some i in instances
	t := tags(i.a)
	is_string(t.service)
])

n_pairs := count(pairs)

# positions where a (service, provider) run starts
runs := [k |
	some k in numbers.range(0, n_pairs - 1)
	run_start(k)
]

run_start(k) if k == 0

run_start(k) if {
	k > 0
	pairs[k] != pairs[k - 1]
}

run_length(j) := runs[j + 1] - runs[j] if j + 1 < count(runs)
else := n_pairs - runs[j]

# indices into `runs` where a service starts
services := [j |
	some j in numbers.range(0, count(runs) - 1)
	service_start(j)
]

service_start(j) if j == 0

service_start(j) if {
	j > 0
	pairs[runs[j]][0] != pairs[runs[j - 1]][0]
}

violations contains ["R15", concat("", ["service:", svc])] if {
	n_pairs > 0
	some q, j0 in services
	svc := pairs[runs[j0]][0]
	svc in vital_services
	j1 := end_of_service(q)
	lengths := [run_length(j) | some j in numbers.range(j0, j1 - 1)]
	max(lengths) / sum(lengths) > cat.max_share
}

end_of_service(q) := services[q + 1] if q + 1 < count(services)
else := count(runs)
