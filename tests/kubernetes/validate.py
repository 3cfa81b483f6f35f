#!/usr/bin/env python3
"""Validates deploy/kubernetes against the Kubernetes schemas, offline.

Every kustomization (the base, each overlay) is rendered with `kubectl kustomize` (kubectl
carries kustomize; `kustomize` itself is used when kubectl is absent) and each rendered
object is validated with PyPI's kubernetes-validate in strict mode (unknown fields are
errors, so a misspelt `readinesProbe` fails) against the schemas it ships, for every
Kubernetes version in KUBERNETES_VERSIONS. The ServiceMonitor has no schema there (it is
a CRD): it is checked against the few fields of the Prometheus Operator's CRD it uses.

Then the rules the manifests promise (docs/kubernetes.md) are checked on the rendered
objects: probes on the admin port at /health/live and /health/ready, the drain delay
inside terminationGracePeriodSeconds, secrets mounted as files for the *_FILE settings,
the security context, and selectors that match.

--self-test copies deploy/kubernetes to a temporary directory, breaks one thing at a time
(a misspelt field, a wrong type, a grace period shorter than the drain, a probe on the
public port, a typo in a kustomization) and requires each copy to fail.

Exit status 0 when everything holds; prints one line per rendered kustomization.
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import kubernetes_validate
import yaml

# The oldest Kubernetes still supported by its project at the time of writing and the
# newest schema kubernetes-validate ships.
KUBERNETES_VERSIONS = ["1.31.0", "1.37.0"]
# actix-web's graceful stop gives in-flight requests this long (src/app.rs).
INFLIGHT_SECS = 10

ROOT = Path(__file__).resolve().parents[2]


class Invalid(Exception):
    pass


def kustomizations(tree: Path) -> list[Path]:
    """The directories to render: the base and every overlay (components are rendered as
    part of the overlays that use them)."""
    found = [tree / "base"]
    found += sorted(p.parent for p in (tree / "overlays").glob("*/kustomization.yaml"))
    return found


SMALL_ONLY = False


def render(directory: Path) -> list[dict]:
    if SMALL_ONLY:
        return render_small(directory)
    if shutil.which("kubectl"):
        cmd = ["kubectl", "kustomize", str(directory)]
    elif shutil.which("kustomize"):
        cmd = ["kustomize", "build", str(directory)]
    else:
        return render_small(directory)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise Invalid(f"{directory}: kustomize failed: {done.stderr.strip()}")
    return [d for d in yaml.safe_load_all(done.stdout) if d]


# --- a small renderer, for machines without kubectl -----------------------------------------
# kubectl is not in Debian's archive; where it is missing, the features of kustomize this
# tree uses are applied here: resources and components (recursively), `labels` (with
# includeSelectors), `replicas`, `images`, and JSON 6902 `add` patches. Anything else in a
# kustomization is an error, so the tree cannot quietly outgrow it; with kubectl present,
# --self-test checks that both render the same objects.
KNOWN_KEYS = {"apiVersion", "kind", "resources", "components", "labels", "replicas",
              "images", "patches"}


def render_small(directory: Path) -> list[dict]:
    path = directory / "kustomization.yaml"
    if not path.exists():
        raise Invalid(f"{directory}: kustomize failed: no kustomization.yaml")
    k = yaml.safe_load(path.read_text()) or {}
    unknown = set(k) - KNOWN_KEYS
    if unknown:
        raise Invalid(f"{directory}: kustomize failed: the small renderer does not know {sorted(unknown)}")
    docs: list[dict] = []
    for entry in k.get("resources", []) + k.get("components", []):
        target = directory / entry
        if target.is_dir():
            docs += render_small(target)
        elif target.is_file():
            docs += [d for d in yaml.safe_load_all(target.read_text()) if d]
        else:
            raise Invalid(f"{directory}: kustomize failed: {entry} does not exist")
    for rule in k.get("labels", []):
        for d in docs:
            d.setdefault("metadata", {}).setdefault("labels", {}).update(rule["pairs"])
            if rule.get("includeSelectors"):
                add_selector_labels(d, rule["pairs"])
    for r in k.get("replicas", []):
        for d in docs:
            if d.get("metadata", {}).get("name") == r["name"] and "replicas" in d.get("spec", {}):
                d["spec"]["replicas"] = r["count"]
    for image in k.get("images", []):
        for d in docs:
            for c in pod_containers(d):
                if c.get("image", "").split(":")[0] == image["name"]:
                    c["image"] = f"{image.get('newName', image['name'])}:{image.get('newTag', 'latest')}"
    for patch in k.get("patches", []):
        target = patch["target"]
        for d in docs:
            if d.get("kind") == target["kind"] and d["metadata"]["name"] == target["name"]:
                for op in yaml.safe_load(patch["patch"]):
                    if op["op"] != "add":
                        raise Invalid(f"{directory}: kustomize failed: only `add` patches are known here")
                    *parents, last = op["path"].strip("/").split("/")
                    node = d
                    for part in parents:
                        node = node[int(part)] if isinstance(node, list) else node[part]
                    node[last] = op["value"]
    return docs


def pod_containers(d: dict) -> list[dict]:
    template = d.get("spec", {}).get("template", {})
    return template.get("spec", {}).get("containers", []) if template else []


def add_selector_labels(d: dict, pairs: dict) -> None:
    spec = d.get("spec", {})
    kind = d.get("kind")
    if kind == "Service":
        spec.setdefault("selector", {}).update(pairs)
    elif kind in ("Deployment", "StatefulSet", "DaemonSet", "PodDisruptionBudget"):
        spec.setdefault("selector", {}).setdefault("matchLabels", {}).update(pairs)
        if "template" in spec:
            spec["template"].setdefault("metadata", {}).setdefault("labels", {}).update(pairs)


def canonical(docs: list[dict]) -> list[str]:
    return sorted(yaml.safe_dump(d, sort_keys=True) for d in docs)


# The fields of monitoring.coreos.com/v1 ServiceMonitor used here, each checked for type;
# anything else under spec or an endpoint is refused like strict validation would.
SERVICE_MONITOR_SPEC = {"selector", "endpoints", "namespaceSelector", "jobLabel"}
SERVICE_MONITOR_ENDPOINT = {
    "port", "path", "interval", "scrapeTimeout", "scheme", "honorLabels",
    "relabelings", "metricRelabelings",
}


def check_service_monitor(doc: dict) -> None:
    if doc.get("apiVersion") != "monitoring.coreos.com/v1":
        raise Invalid("ServiceMonitor: apiVersion must be monitoring.coreos.com/v1")
    spec = doc.get("spec")
    if not isinstance(spec, dict) or set(spec) - SERVICE_MONITOR_SPEC:
        raise Invalid(f"ServiceMonitor: unknown spec fields {sorted(set(spec or {}) - SERVICE_MONITOR_SPEC)}")
    labels = spec.get("selector", {}).get("matchLabels")
    if not isinstance(labels, dict) or not labels:
        raise Invalid("ServiceMonitor: spec.selector.matchLabels must be a non-empty map")
    endpoints = spec.get("endpoints")
    if not isinstance(endpoints, list) or not endpoints:
        raise Invalid("ServiceMonitor: spec.endpoints must be a non-empty list")
    for ep in endpoints:
        if not isinstance(ep, dict) or set(ep) - SERVICE_MONITOR_ENDPOINT:
            raise Invalid(f"ServiceMonitor: unknown endpoint fields in {ep}")
        for key in ("port", "path", "interval"):
            if key in ep and not isinstance(ep[key], str):
                raise Invalid(f"ServiceMonitor: endpoint {key} must be a string")


def validate_schemas(docs: list[dict], where: str) -> None:
    for doc in docs:
        name = f"{where}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        if doc.get("kind") == "ServiceMonitor":
            check_service_monitor(doc)
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as err:
                path = "/".join(str(p) for p in err.path)
                raise Invalid(f"{name} (Kubernetes {version}): {path}: {err.message}") from None
            except (kubernetes_validate.SchemaNotFoundError,
                    kubernetes_validate.InvalidSchemaError) as err:
                raise Invalid(f"{name} (Kubernetes {version}): {err}") from None


def find(docs: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [d for d in docs if d.get("kind") == kind
            and (name is None or d.get("metadata", {}).get("name") == name)]


def selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_rules(docs: list[dict], where: str) -> None:
    def fail(why: str) -> None:
        raise Invalid(f"{where}: {why}")

    deployments = find(docs, "Deployment", "portcullis")
    if len(deployments) != 1:
        fail("expected one Deployment `portcullis`")
    dep = deployments[0]
    pod = dep["spec"]["template"]
    pod_labels = pod["metadata"]["labels"]
    spec = pod["spec"]
    containers = [c for c in spec["containers"] if c["name"] == "portcullis"]
    if len(containers) != 1:
        fail("the Deployment has no container `portcullis`")
    c = containers[0]
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    if ports.get("http") != 8080 or ports.get("admin") != 9090:
        fail(f"container ports must be http 8080 and admin 9090, are {ports}")

    # The settings the container gets: the ConfigMap's, then env (which wins).
    settings: dict[str, str] = {}
    for src in c.get("envFrom", []):
        ref = src.get("configMapRef", {}).get("name")
        maps = find(docs, "ConfigMap", ref)
        if not maps:
            fail(f"envFrom names ConfigMap {ref}, which is not rendered")
        settings.update(maps[0].get("data", {}))
    for e in c.get("env", []):
        if "value" in e:
            settings[e["name"]] = e["value"]
    if settings.get("PORTCULLIS_ADMIN__BIND", "").rsplit(":", 1)[-1] != "9090":
        fail("PORTCULLIS_ADMIN__BIND must listen on 9090, the admin port the probes use")
    if settings.get("PORTCULLIS_HTTP__BIND", "").rsplit(":", 1)[-1] != "8080":
        fail("PORTCULLIS_HTTP__BIND must listen on 8080")

    for probe, path in (("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready")):
        got = c.get(probe, {}).get("httpGet", {})
        if got.get("path") != path or got.get("port") not in ("admin", 9090):
            fail(f"{probe} must GET {path} on the admin port, is {got}")
    startup = c.get("startupProbe", {}).get("httpGet", {})
    if startup and (startup.get("path") != "/health/live" or startup.get("port") not in ("admin", 9090)):
        fail("startupProbe must GET /health/live on the admin port")

    delay = int(settings.get("PORTCULLIS_HTTP__SHUTDOWN_DELAY_SECS", "0"))
    grace = int(spec.get("terminationGracePeriodSeconds", 30))
    if grace <= delay + INFLIGHT_SECS:
        fail(f"terminationGracePeriodSeconds ({grace}) must exceed "
             f"PORTCULLIS_HTTP__SHUTDOWN_DELAY_SECS ({delay}) + {INFLIGHT_SECS} s for in-flight requests")

    # Secrets as files: each *_FILE setting points into a mounted, read-only secret volume.
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for setting in ("PORTCULLIS_DATABASE__URL_FILE", "PORTCULLIS_KEYS__MASTER_KEYS_FILE"):
        path = settings.get(setting)
        if not path:
            fail(f"{setting} is not set")
        parent = str(Path(path).parent)
        mount = mounts.get(parent)
        if not mount or not mount.get("readOnly"):
            fail(f"{setting}={path}: {parent} is not a read-only mount")
        volume = volumes.get(mount["name"], {})
        secret = volume.get("secret")
        if not secret:
            fail(f"{setting}: volume {mount['name']} is not a Secret")
        items = [i["path"] for i in secret.get("items", [])]
        if items and Path(path).name not in items:
            fail(f"{setting}: the Secret volume has no item {Path(path).name}")
    if any(k in settings for k in ("PORTCULLIS_DATABASE__URL", "PORTCULLIS_KEYS__MASTER_KEYS")):
        fail("secrets must come from files, not plain environment variables")

    pod_sc = spec.get("securityContext", {})
    sc = c.get("securityContext", {})
    if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
        fail("runAsNonRoot must be true")
    if sc.get("readOnlyRootFilesystem") is not True:
        fail("readOnlyRootFilesystem must be true")
    if sc.get("allowPrivilegeEscalation") is not False:
        fail("allowPrivilegeEscalation must be false")
    if sc.get("capabilities", {}).get("drop") != ["ALL"]:
        fail("capabilities must drop ALL")

    services = {s["metadata"]["name"]: s for s in find(docs, "Service")}
    for name, port in (("portcullis", "http"), ("portcullis-admin", "admin")):
        svc = services.get(name)
        if not svc:
            fail(f"no Service {name}")
        if not selects(svc["spec"].get("selector", {}), pod_labels):
            fail(f"Service {name} does not select the Deployment's pods")
        if [p.get("targetPort") for p in svc["spec"]["ports"]] != [port]:
            fail(f"Service {name} must target the {port} port")

    pdbs = find(docs, "PodDisruptionBudget")
    if len(pdbs) != 1 or not selects(pdbs[0]["spec"]["selector"].get("matchLabels", {}), pod_labels):
        fail("one PodDisruptionBudget must select the Deployment's pods")
    if not selects(dep["spec"]["selector"].get("matchLabels", {}), pod_labels):
        fail("the Deployment's selector does not match its own pods")

    for sm in find(docs, "ServiceMonitor"):
        wanted = sm["spec"]["selector"]["matchLabels"]
        admin_labels = services["portcullis-admin"]["metadata"].get("labels", {})
        if not selects(wanted, admin_labels):
            fail("the ServiceMonitor does not select the admin Service")
        if [e.get("port") for e in sm["spec"]["endpoints"]] != ["admin"]:
            fail("the ServiceMonitor must scrape the admin port")


def validate_tree(tree: Path, quiet: bool = False) -> None:
    for directory in kustomizations(tree):
        where = str(directory.relative_to(tree))
        docs = render(directory)
        validate_schemas(docs, where)
        check_rules(docs, where)
        if not quiet:
            kinds = ", ".join(sorted(d["kind"] for d in docs))
            print(f"ok  {where}: {len(docs)} objects ({kinds}), Kubernetes {' and '.join(KUBERNETES_VERSIONS)}")


# Each a file under deploy/kubernetes, the text to replace, its replacement, and what the
# failure must say.
BREAKAGES = [
    ("base/deployment.yaml", "readinessProbe:", "readinesProbe:", "readinesProbe"),
    ("base/deployment.yaml", "containerPort: 8080", "containerPort: \"8080\"", "containerPort"),
    ("base/deployment.yaml", "terminationGracePeriodSeconds: 30", "terminationGracePeriodSeconds: 15",
     "terminationGracePeriodSeconds"),
    ("base/deployment.yaml", "path: /health/live\n              port: admin",
     "path: /health/live\n              port: http", "livenessProbe"),
    ("base/deployment.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false",
     "readOnlyRootFilesystem"),
    ("base/services.yaml", "targetPort: admin", "targetPort: admn", "admin port"),
    ("base/pdb.yaml", "maxUnavailable: 1", "maxUnavailabe: 1", "maxUnavailabe"),
    ("base/kustomization.yaml", "  - pdb.yaml", "  - pdbs.yaml", "kustomize failed"),
    ("overlays/postgres/postgres.yaml", "volumeClaimTemplates:", "volumeClaimTemplate:",
     "volumeClaimTemplate"),
    ("components/servicemonitor/servicemonitor.yaml", "interval: 30s", "intervall: 30s",
     "unknown endpoint fields"),
]


def self_test(tree: Path) -> None:
    if not SMALL_ONLY and (shutil.which("kubectl") or shutil.which("kustomize")):
        for directory in kustomizations(tree):
            if canonical(render(directory)) != canonical(render_small(directory)):
                raise SystemExit(f"self-test: the small renderer differs from kustomize on {directory}")
        print("ok  the small renderer (used without kubectl) renders what kustomize renders")
    for rel, old, new, says in BREAKAGES:
        with tempfile.TemporaryDirectory() as tmp:
            copy_root = Path(tmp) / "kubernetes"
            shutil.copytree(tree, copy_root)
            target = copy_root / rel
            text = target.read_text()
            if old not in text:
                raise SystemExit(f"self-test: `{old}` not found in {rel}; update BREAKAGES")
            target.write_text(text.replace(old, new, 1))
            try:
                validate_tree(copy_root, quiet=True)
            except Invalid as err:
                if says not in str(err):
                    raise SystemExit(f"self-test: {rel} broken ({new!r}) failed for another reason: {err}")
                print(f"ok  broken {rel} ({new.strip()!r}) fails: {str(err)[:150]}")
                continue
            raise SystemExit(f"self-test: {rel} broken ({new!r}) passed validation")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT / "deploy" / "kubernetes")
    parser.add_argument("--self-test", action="store_true",
                        help="also prove that broken copies of the manifests fail")
    parser.add_argument("--small-renderer", action="store_true",
                        help="render with the built-in renderer even where kubectl exists")
    args = parser.parse_args()
    global SMALL_ONLY
    SMALL_ONLY = args.small_renderer
    if SMALL_ONLY or not (shutil.which("kubectl") or shutil.which("kustomize")):
        print("rendering with the small built-in renderer (no kubectl or kustomize here)")
    try:
        validate_tree(args.tree)
    except Invalid as err:
        print(f"INVALID {err}", file=sys.stderr)
        return 1
    if args.self_test:
        self_test(args.tree)
    return 0


if __name__ == "__main__":
    sys.exit(main())
