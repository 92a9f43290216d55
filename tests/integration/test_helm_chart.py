"""The helm/tre chart, rendered by the real helm with each values file of helm/tre/ci.

Every pod it makes and every workspace pod its hub would make are locked down; a
NetworkPolicy isolates every workspace; no secret is a plain value; the manifests
pass Kubernetes' own schemas (kubernetes-validate, strict) and ``helm lint --strict``.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.helm.chart import (
    CHART,
    VALUES,
    RenderError,
    helm,
    of_kind,
    pod_templates,
    render,
    workspace_pods,
)
from tests.helm.values_doc import documented_keys
from workspaces.netpolicy import parse_policy, selecting

KUBERNETES_VERSIONS = ("1.33.0", "1.37.0")  # kubectl's, and the newest the schemas know
LOCKED = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
          "runAsNonRoot": True, "privileged": False}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY|DATABASE_URL|COOKIE", re.IGNORECASE)

values_files = pytest.mark.parametrize("values", VALUES, ids=[v.stem for v in VALUES])


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {v.stem: render(v) for v in VALUES}


def test_the_values_files_are_the_five_profiles() -> None:
    assert [v.stem for v in VALUES] == [
        "default-values", "external-database-values", "s3-store-values", "strict-values",
        "three-replicas-values"]


@values_files
def test_helm_lint_is_clean(values: Path) -> None:
    proc = helm("lint", "--strict", str(CHART), "-f", str(values))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[WARNING]" not in proc.stdout and "[ERROR]" not in proc.stdout
    assert "1 chart(s) linted, 0 chart(s) failed" in proc.stdout


@values_files
def test_manifests_pass_the_kubernetes_schemas_strictly(
        values: Path, rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered[values.stem] + [m for _, m in workspace_pods(rendered[values.stem])]
    for version in KUBERNETES_VERSIONS:
        for doc in docs:
            # raises ValidationError naming the field when a manifest is wrong
            kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_refuses_a_misspelt_field() -> None:
    """The check above can fail: an unknown field is refused in strict mode."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "i",
                                    "securityContxt": {"privileged": False}}]}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, KUBERNETES_VERSIONS[0], strict=True)


# The volume types the "restricted" Pod Security Standard allows (no hostPath ...).
RESTRICTED_VOLUMES = {"persistentVolumeClaim", "emptyDir", "configMap", "secret", "projected",
                      "downwardAPI", "ephemeral", "csi"}


def _assert_locked(name: str, spec: dict[str, Any]) -> None:
    assert spec.get("automountServiceAccountToken") is (name == "tre-hub"), name
    for volume in spec.get("volumes", []):
        assert set(volume) - {"name"} <= RESTRICTED_VOLUMES, (name, volume)
    assert spec.get("hostNetwork") in (None, False) and spec.get("hostPID") in (None, False)
    assert spec["securityContext"]["runAsNonRoot"] is True, name
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
    for c in spec.get("initContainers", []) + spec["containers"]:
        sc = c["securityContext"]
        assert {k: sc.get(k) for k in LOCKED} == LOCKED, (name, c["name"])
        assert sc["capabilities"] == {"drop": ["ALL"]}, (name, c["name"])
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, (name, c["name"])


@values_files
def test_every_pod_is_locked_down(values: Path,
                                  rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered[values.stem]
    templates = pod_templates(docs)
    assert {"tre-hub", "tre-airlock", "tre-migrations"} <= {n for n, _ in templates}
    for name, template in templates:
        _assert_locked(name, template["spec"])
    for pod, manifest in workspace_pods(docs):
        spec = manifest["spec"]
        _assert_locked(pod.name, spec)
        assert spec["enableServiceLinks"] is False
        assert [c["name"] for c in spec["initContainers"]] == ["mountpoints"]
        mounts = {m["mountPath"]: m.get("readOnly", False)
                  for m in spec["containers"][0]["volumeMounts"]}
        assert mounts["/home/jovyan/data"] is True and mounts["/home/jovyan/data/ehr"] is True
        claims = {v["name"]: v.get("persistentVolumeClaim") for v in spec["volumes"]}
        assert claims["dataset-ehr"] == {"claimName": "tre-dataset-ehr", "readOnly": True}
        assert pod.labels["org.tre/project"] in ("proj-a", "proj-b")


def test_dataset_claims_are_read_only_many(rendered: dict[str, list[dict[str, Any]]]) -> None:
    claims = {d["metadata"]["name"]: d["spec"]["accessModes"]
              for d in of_kind(rendered["strict-values"], "PersistentVolumeClaim")}
    assert claims["tre-dataset-ehr"] == claims["tre-dataset-registry"] == ["ReadOnlyMany"]
    assert claims["tre-airlock-store"] == ["ReadWriteMany"]


@values_files
def test_a_policy_isolates_every_workspace_and_none_lets_it_out(
        values: Path, rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered[values.stem]
    policies = [parse_policy(d, "tre") for d in of_kind(docs, "NetworkPolicy")]
    for pod, _ in workspace_pods(docs):
        for direction in ("Ingress", "Egress"):
            assert selecting(policies, pod, direction), (pod.name, direction)
        for policy in selecting(policies, pod, "Egress"):
            for rule in policy.egress:
                assert rule.get("to"), f"{policy.name}: an egress rule to every address"
                for peer in rule["to"]:
                    cidr = peer.get("ipBlock", {}).get("cidr", "")
                    assert not cidr.endswith("/0"), f"{policy.name}: egress to {cidr}"


@values_files
def test_secrets_are_never_plain_values(values: Path,
                                        rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered[values.stem]
    for name, template in pod_templates(docs):
        for c in template["spec"].get("initContainers", []) + template["spec"]["containers"]:
            for env in c.get("env", []):
                if SECRET_NAME.search(env["name"]):
                    assert "secretKeyRef" in env.get("valueFrom", {}), (name, env["name"])
    secrets = [base64.b64decode(v).decode() for d in of_kind(docs, "Secret")
               for v in (d.get("data") or {}).values()]
    assert secrets and all(len(s) >= 32 for s in secrets if "://" not in s)
    elsewhere = json.dumps([d for d in docs if d["kind"] != "Secret"])
    for secret in secrets:
        assert secret not in elsewhere
    # values name Secrets; they never hold one
    for key, value in _leaves(yaml.safe_load(values.read_text()) or {}):
        if SECRET_NAME.search(key.rsplit(".", 1)[-1]):
            assert key.endswith(("existingSecret", "secretKey", "secretName")), key
        assert "password" not in str(value).lower() or "secretKeyRef" in str(value), key


def _leaves(tree: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(tree, dict):
        return [x for k, v in tree.items() for x in _leaves(v, f"{prefix}{k}.")]
    if isinstance(tree, list):
        return [x for i, v in enumerate(tree) for x in _leaves(v, f"{prefix}{i}.")]
    return [(prefix.rstrip("."), tree)]


def test_generated_secrets_are_random_per_install() -> None:
    one, two = (render(VALUES[0]) for _ in range(2))
    data = [next(d for d in docs if d["metadata"]["name"] == "tre-secrets")["data"]
            for docs in (one, two)]
    assert set(data[0]) == {"secret-key", "airlock-api-token", "cookie-secret", "proxy-token",
                            "demo-password"}
    assert all(data[0][k] != data[1][k] for k in data[0])
    cookie = base64.b64decode(data[0]["cookie-secret"]).decode()
    assert re.fullmatch(r"[0-9a-f]{64}", cookie)  # JupyterHub reads it as hex


def test_no_network_policies_is_refused_unless_acknowledged() -> None:
    with pytest.raises(RenderError, match=r"networkPolicy\.enabled=false leaves every workspace"):
        render(None, "networkPolicy.enabled=false")
    docs = render(None, "networkPolicy.enabled=false", "insecure.acknowledge=true")
    assert of_kind(docs, "NetworkPolicy") == []


def test_notes_say_an_enforcing_cni_is_required() -> None:
    proc = helm("install", "tre", str(CHART), "--dry-run=client", "--namespace", "tre")
    assert proc.returncode == 0, proc.stderr
    notes = proc.stdout.split("NOTES:", 1)[1]
    assert "NETWORK POLICIES NEED A CNI THAT ENFORCES THEM" in notes
    assert "Calico, Cilium" in notes
    proc = helm("install", "tre", str(CHART), "--dry-run=client", "--set",
                "networkPolicy.enabled=false", "--set", "insecure.acknowledge=true")
    assert "Nothing confines\nthe workspaces" in proc.stdout.split("NOTES:", 1)[1]


def test_the_airlock_gets_the_workspace_networks_and_the_notes_say_so() -> None:
    """Empty by default (every call outside, drafts unreadable), and the NOTES say which."""
    def airlock_env(docs: list[dict[str, Any]]) -> dict[str, str]:
        [deployment] = [d for d in of_kind(docs, "Deployment")
                        if d["metadata"]["name"] == "tre-airlock"]
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        return {e["name"]: e.get("value") for e in container["env"]}

    assert airlock_env(render(None))["TRE_AIRLOCK_WORKSPACE_NETWORKS"] == "[]"
    strict = render(CHART / "ci" / "strict-values.yaml")
    assert json.loads(airlock_env(strict)["TRE_AIRLOCK_WORKSPACE_NETWORKS"]) == [
        "10.244.0.0/16", "fd00:10:244::/56"]
    proc = helm("install", "tre", str(CHART), "--dry-run=client", "--namespace", "tre")
    notes = proc.stdout.split("NOTES:", 1)[1]
    assert "airlock.workspaceNetworks is empty, so every call to the airlock\ncounts as " \
        "outside" in notes
    proc = helm("install", "tre", str(CHART), "--dry-run=client", "--namespace", "tre",
                "--set", "airlock.workspaceNetworks={10.244.0.0/16}")
    notes = proc.stdout.split("NOTES:", 1)[1]
    assert "a hub API token from 10.244.0.0/16 straight to the\nairlock counts as a " \
        "workspace's" in notes
    assert "X-Forwarded-For" in notes


@pytest.mark.parametrize(("sets", "message"), [
    (["database.existingSecret=db"], "choose the in-chart trial database or your external"),
    (["postgresql.enabled=false"], "no database: set database.existingSecret"),
    (["postgresql.enabled=false", "database.existingSecret=db"], "database.cidrs is empty"),
    (["airlock.store.type=s3"], "needs airlock.store.s3.bucket"),
    (["airlock.store.type=s3", "airlock.store.s3.bucket=b-1"], "existingSecret"),
    (["workspace.dns=mirror"], "needs workspace.dnsMirror.ip"),
    (["environment=production"], "refuses the demo's shared password"),
    (["airlock.replicas=0"], "minimum: got 0, want 1"),
    (["workspace.dns=anything"], "workspace/dns"),
    (["hub.adminPassword=x"], "additional properties 'adminPassword' not allowed"),
    # wider than /8 or /32: half the internet would be "inside"; not a CIDR at all
    (["airlock.workspaceNetworks={10.0.0.0/7}"],
     "'/airlock/workspaceNetworks/0': '10.0.0.0/7' does not match"),
    (["airlock.workspaceNetworks={0.0.0.0/0}"], "'0.0.0.0/0' does not match"),
    (["airlock.workspaceNetworks={fd00::/31}"], "'fd00::/31' does not match"),
    (["airlock.workspaceNetworks={10.244.0.0}"], "'10.244.0.0' does not match"),
    (["airlock.workspaceNetworks={10.244.0.0/16}", "networkPolicy.enabled=false",
      "insecure.acknowledge=true"],
     "airlock.workspaceNetworks needs networkPolicy.enabled=true: without the policies any "
     "pod with an address in those networks reaches the airlock and counts as inside"),
])
def test_bad_values_are_refused_with_a_sentence(sets: list[str], message: str) -> None:
    with pytest.raises(RenderError, match=re.escape(message)):
        render(None, *sets)


# ---- values.yaml and values.schema.json in step -----------------------------------------------
def _schema_keys(node: dict[str, Any], prefix: str = "") -> dict[str, str]:
    found = {}
    for key, sub in (node.get("properties") or {}).items():
        found[prefix + key] = sub.get("description")
        found.update(_schema_keys(sub, f"{prefix}{key}."))
    return found


def test_every_value_is_documented_and_in_the_schema() -> None:
    documented = documented_keys(CHART / "values.yaml")
    undocumented = [k for k, text in documented.items() if not text]
    assert undocumented == []
    schema = json.loads((CHART / "values.schema.json").read_text())
    in_schema = _schema_keys(schema)
    assert set(documented) == set(in_schema)
    assert {k: documented[k] for k in documented} == in_schema  # the same sentences


def test_the_values_files_meet_the_schema() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.validate(yaml.safe_load((CHART / "values.yaml").read_text()), schema)
    for values in VALUES:
        jsonschema.validate(yaml.safe_load(values.read_text()) or {}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"airlock": {"store": {"type": "ftp"}}}, schema)
