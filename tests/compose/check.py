#!/usr/bin/env python3
"""Checks what docker-compose.prod.yml promises (docs/production.md), without Docker:

- every service is `read_only`, drops ALL capabilities and sets `no-new-privileges`
  (Caddy alone gets NET_BIND_SERVICE back);
- every `*_FILE` setting of a service points at /run/secrets/NAME for a secret that
  service is given and the file declares; no secret is passed as a plain variable;
- Portcullis trusts Caddy's fixed address as its proxy, publishes no port, and its issuer
  is https;
- Postgres is only on an internal network.

No compose CLI is needed (none is installed here); the YAML is read as written.
"""

import ipaddress
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    path = ROOT / "docker-compose.prod.yml"
    doc = yaml.safe_load(path.read_text())
    problems = []
    services = doc["services"]
    declared = set(doc.get("secrets", {}))
    for name, svc in services.items():
        if svc.get("read_only") is not True:
            problems.append(f"{name}: read_only must be true")
        if svc.get("cap_drop") != ["ALL"]:
            problems.append(f"{name}: cap_drop must be [ALL]")
        if set(svc.get("cap_add", [])) - ({"NET_BIND_SERVICE"} if name == "caddy" else set()):
            problems.append(f"{name}: adds capabilities {svc.get('cap_add')}")
        if "no-new-privileges:true" not in svc.get("security_opt", []):
            problems.append(f"{name}: security_opt must have no-new-privileges:true")
        given = set(svc.get("secrets", []))
        if given - declared:
            problems.append(f"{name}: secrets {sorted(given - declared)} are not declared")
        for var, value in (svc.get("environment") or {}).items():
            value = str(value)
            if var.endswith("_FILE"):
                secret = value.removeprefix("/run/secrets/")
                if not value.startswith("/run/secrets/") or secret not in given:
                    problems.append(f"{name}: {var}={value} is not a secret the service gets")
            elif any(w in var for w in ("PASSWORD", "MASTER_KEYS", "DATABASE__URL")):
                problems.append(f"{name}: {var} passes a secret as a plain variable")
    for secret in declared:
        file = doc["secrets"][secret].get("file", "")
        if not file.startswith("./secrets/"):
            problems.append(f"secret {secret}: expected a file under ./secrets/ (git-ignored)")

    caddy = services["caddy"]["networks"]["front"]["ipv4_address"]
    portcullis = services["portcullis"]
    env = portcullis["environment"]
    trusted = [ipaddress.ip_network(r.strip()) for r in env["PORTCULLIS_PROXY__TRUSTED_PROXIES"].split(",")]
    if not any(ipaddress.ip_address(caddy) in net for net in trusted):
        problems.append(f"portcullis does not trust Caddy's address {caddy}")
    if "ports" in portcullis:
        problems.append("portcullis publishes ports: only Caddy should")
    if not env["PORTCULLIS_ISSUER"].startswith("https://"):
        problems.append("the issuer must be https")
    if not doc["networks"]["back"].get("internal"):
        problems.append("the back network must be internal")
    if set(services["postgres"]["networks"]) != {"back"}:
        problems.append("postgres must be on the back network only")

    ignored = (ROOT / ".gitignore").read_text().splitlines()
    if "/secrets/" not in ignored:
        problems.append(".gitignore must ignore /secrets/")
    if "secrets/" not in (ROOT / ".dockerignore").read_text().splitlines():
        problems.append(".dockerignore must ignore secrets/")

    for p in problems:
        print(f"INVALID docker-compose.prod.yml: {p}", file=sys.stderr)
    if not problems:
        print(f"ok  docker-compose.prod.yml: {len(services)} services hardened, "
              f"{len(declared)} secrets as files, Caddy {caddy} trusted")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
