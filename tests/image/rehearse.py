#!/usr/bin/env python3
"""The image's runtime, rehearsed without a container engine: the Dockerfile's runtime
stage rebuilt from the Debian packages distroless's cc-debian12 is made of, and the
binary run in it the way Docker, compose or Kubernetes would run the image.

    python3 tests/image/rehearse.py [--self-test] [--binary target/debug/portcullis] [--timeout 120]

Why a rehearsal: this machine reaches no container registry and runs no Docker daemon,
so the image itself cannot be built or pulled here (docs/production.md, "The image").
What can be checked without them is what decides whether the image works: that the binary
needs nothing distroless/cc lacks, and that it runs as the Dockerfile says (its user, its
environment, its data directory, its health check) on a read-only root.

What it builds (in a temporary directory, removed afterwards):
- the root file system: the `.deb`s of cc-debian12 (distroless's `static`, `base` and
  `cc` package lists for debian12, PACKAGES below, taken from distroless's
  `{static,base,cc}/config.bzl`), unpacked with `dpkg-deb -x`, plus what distroless adds
  itself: `/etc/passwd` and `/etc/group` with root, nobody and nonroot, `/home/nonroot`,
  `/tmp` (1777), `/etc/nsswitch.conf`, `/etc/os-release`, the CA bundle. Package versions
  are Debian 12's current ones from this machine's apt, which may be newer than those in
  the pinned digest's build; the file set is the same. No shell, no package manager;
- then the Dockerfile's runtime stage, read from the Dockerfile (not restated here): the
  binary at /usr/local/bin/portcullis, /data owned by the USER with mode 0700, the ENV,
  USER, WORKDIR and HEALTHCHECK lines.

How it runs it, as a container runtime does: in a mount and network namespace of its own
(the script re-executes itself under `unshare`), root mounted read-only, `/data` a
writable volume, `/tmp` a tmpfs (docker-compose.prod.yml, deploy/kubernetes), `/proc`,
a minimal `/dev` and `/etc/hosts`; the process chrooted, with the Dockerfile's uid and gid,
no supplementary groups, no capabilities (dropped by the change of uid) and
no_new_privs; its environment is distroless's (`PATH`, `SSL_CERT_FILE`) plus the
Dockerfile's ENV and nothing else. The Dockerfile's ports are used as they are: the
network namespace is private, so 8080 and 9090 cannot collide with anything.

What it checks (each line prints `ok` or `FAIL`; the last line counts them):
- the Dockerfile: base images pinned by digest, a numeric USER, a liveness HEALTHCHECK
  in exec form, no package installed into the runtime stage;
- the Dockerfile's own `ldd` allow-list accepts the binary;
- the binary starts in the root file system (so every library it needs is there) and does
  not see a shell;
- `serve` with the Dockerfile's environment: readiness, discovery naming the default
  issuer, a signing key in the JWKS, `process_*` metrics (read from /proc), a token for a
  client made with the CLI in the same container;
- the HEALTHCHECK command, exactly as the Dockerfile gives it, exits 0 while the server
  runs and non-zero once it has stopped; SIGTERM stops the server with status 0;
- the root file system stayed read-only, and every file the server wrote under /data
  belongs to the USER and is not readable by others.

`--self-test` first proves the checks can fail: four broken copies of the Dockerfile (a
base image by tag only, USER root, a readiness health check, a package installed into the
runtime stage) must each fail a check, and the binary must not start in a root file
system without libgcc-s1. Runs as root (it mounts, chroots and changes uid); about 5 s
after `apt-get download` has fetched the eleven packages.
"""

import argparse
import base64
import ctypes
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCKERFILE = os.path.join(REPO, "Dockerfile")

# gcr.io/distroless/cc-debian12 = static + base + cc for debian12, as distroless's
# static/config.bzl, base/config.bzl and cc/config.bzl list them (read at distroless commit
# cd080764af3103b2f49fb5eb23297c72c945e77a, 2026-08-21). ca-certificates is not installed
# as a package there: distroless builds the bundle from it (common:cacerts), as done below.
PACKAGES = {
    "static": ["base-files", "netbase", "tzdata", "media-types"],
    "base": ["libc6", "libssl3"],
    "cc": ["libgomp1", "libstdc++6", "libgcc-s1", "gcc-12-base"],
}
CA_PACKAGE = "ca-certificates"
NONROOT = 65532
NOBODY = 65534
DISTROLESS_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

checks = {"passed": 0, "failed": 0}


def log(msg):
    print(f"[image] {msg}", file=sys.stderr, flush=True)


def check(cond, what):
    if checks.get("muted") is not None:
        # Inside the self-test: a broken copy's checks are meant to fail; count, don't log.
        checks["muted"] += 0 if cond else 1
        return cond
    if cond:
        checks["passed"] += 1
        log(f"ok   {what}")
    else:
        checks["failed"] += 1
        log(f"FAIL {what}")
    return cond


def must(cond, what):
    """A check the rest of the run depends on."""
    if not check(cond, what):
        raise SystemExit(1)


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)} exited {r.returncode}: {r.stderr.strip()}")
    return r.stdout


# ------------------------------------------------------------------------ the Dockerfile

class Dockerfile:
    """The few instructions the rehearsal needs, read from the Dockerfile itself, so a
    change there is rehearsed as it is written."""

    def __init__(self, text):
        # Join continuation lines; drop comments.
        lines, current = [], ""
        for raw in text.splitlines():
            if not current and raw.lstrip().startswith("#"):
                continue
            if raw.rstrip().endswith("\\"):
                current += raw.rstrip()[:-1] + " "
                continue
            current += raw
            if current.strip():
                lines.append(current.strip())
            current = ""
        self.instructions = [(l.split(None, 1)[0].upper(), l.split(None, 1)[1] if " " in l else "")
                             for l in lines]
        self.args = {}
        for op, rest in self.instructions:
            if op == "ARG" and "=" in rest:
                name, value = rest.split("=", 1)
                self.args.setdefault(name.strip(), value.strip())
        # The runtime stage: everything after the last FROM.
        last_from = max(i for i, (op, _) in enumerate(self.instructions) if op == "FROM")
        self.froms = [rest for op, rest in self.instructions if op == "FROM"]
        self.runtime = self.instructions[last_from:]
        self.build = self.instructions[:last_from]

    def expand(self, value):
        return re.sub(r"\$\{(\w+)\}|\$(\w+)",
                      lambda m: self.args.get(m.group(1) or m.group(2), m.group(0)), value)

    def base_images(self):
        return [self.expand(f.split()[0]) for f in self.froms]

    def last(self, op):
        found = [rest for o, rest in self.runtime if o == op]
        return found[-1] if found else None

    def env(self):
        env = {}
        for op, rest in self.runtime:
            if op == "ENV":
                for pair in shlex.split(rest):
                    name, value = pair.split("=", 1)
                    env[name] = value
        return env

    def user(self):
        uid, _, gid = self.last("USER").partition(":")
        return int(uid), int(gid or uid)

    def healthcheck(self):
        rest = self.last("HEALTHCHECK")
        cmd = rest.split("CMD", 1)[1].strip()
        return json.loads(cmd)  # exec form: a JSON array, or this fails

    def ldd_allowed(self):
        """The allow-list the build stage's `ldd` check greps with."""
        for op, rest in self.build:
            m = re.search(r"grep -vE '([^']+)'", rest)
            if op == "RUN" and "ldd" in rest and m:
                return re.compile(m.group(1))
        return None


def check_dockerfile(df):
    images = df.base_images()
    for image in images:
        check(re.search(r"@sha256:[0-9a-f]{64}$", image) is not None,
              f"base image pinned by digest: {image}")
    runtime = images[-1]
    check(runtime.startswith("gcr.io/distroless/cc-debian12:nonroot@"),
          "the runtime stage is distroless/cc-debian12 (nonroot)")
    user = df.last("USER") or ""
    check(re.fullmatch(r"\d+:\d+", user) is not None and not user.startswith("0:"),
          f"USER is numeric and not root ({user})")
    try:
        hc = df.healthcheck()
        check(hc[-2:] == ["healthcheck", "--live"],
              f"HEALTHCHECK probes liveness, exec form: {hc}")
    except (AttributeError, IndexError, ValueError) as e:
        check(False, f"HEALTHCHECK in exec form ({e})")
    runs = [rest for op, rest in df.runtime if op == "RUN"]
    check(not any(re.search(r"apt-get|dpkg|libpq", r) for r in runs),
          "nothing is installed into the runtime stage (no libpq5, no package manager)")
    labels = " ".join(rest for op, rest in df.runtime if op == "LABEL")
    for label in ("title", "version", "revision", "created", "base.name"):
        check(f"org.opencontainers.image.{label}=" in labels, f"OCI label {label}")
    base_name = re.search(r'org\.opencontainers\.image\.base\.name="([^"]+)"', labels)
    check(base_name is not None and df.expand(base_name.group(1)) == df.args.get("RUNTIME_IMAGE"),
          "the base.name label names the pinned runtime image")


# --------------------------------------------------------------------- the root file system

def download(into):
    """The packages, fetched before entering the namespaces (which have no network)."""
    packages = [p for group in PACKAGES.values() for p in group] + [CA_PACKAGE]
    os.makedirs(into, exist_ok=True)
    os.chmod(into, 0o755)  # apt's sandbox user writes here
    try:
        run(["apt-get", "download", "-q"] + packages, cwd=into)
    except RuntimeError:
        # A fresh machine may have no package lists yet.
        run(["apt-get", "update", "-qq"])
        run(["apt-get", "download", "-q"] + packages, cwd=into)
    debs = downloaded(into)
    missing = [p for p in packages if p not in debs]
    if missing:
        raise RuntimeError(f"apt-get download gave no .deb for {missing}")


def downloaded(into):
    return {name.split("_", 1)[0]: os.path.join(into, name)
            for name in os.listdir(into) if name.endswith(".deb")}


def build_rootfs(root, debs_dir, df, binary, leave_out=()):
    packages = [p for group in PACKAGES.values() for p in group if p not in leave_out]
    debs = downloaded(debs_dir)
    for p in packages:
        run(["dpkg-deb", "-x", debs[p], root])
    # The CA bundle, as distroless's cacerts rule makes it: every certificate the
    # ca-certificates package ships, concatenated.
    with tempfile.TemporaryDirectory() as ca:
        run(["dpkg-deb", "-x", debs[CA_PACKAGE], ca])
        certs = []
        for dirpath, _, files in os.walk(os.path.join(ca, "usr/share/ca-certificates")):
            certs += [os.path.join(dirpath, f) for f in sorted(files) if f.endswith(".crt")]
        os.makedirs(os.path.join(root, "etc/ssl/certs"), exist_ok=True)
        with open(os.path.join(root, CA_BUNDLE.lstrip("/")), "w") as out:
            for c in certs:
                out.write(open(c).read())
    write(root, "etc/passwd",
          "root:x:0:0:root:/root:/sbin/nologin\n"
          f"nobody:x:{NOBODY}:{NOBODY}:nobody:/nonexistent:/sbin/nologin\n"
          f"nonroot:x:{NONROOT}:{NONROOT}:nonroot:/home/nonroot:/sbin/nologin\n")
    write(root, "etc/group",
          f"root:x:0:\nnobody:x:{NOBODY}:\nnonroot:x:{NONROOT}:\n")
    write(root, "etc/nsswitch.conf", "hosts: files dns\n")
    write(root, "etc/os-release",
          'PRETTY_NAME="Distroless"\nNAME="Debian GNU/Linux"\nID="debian"\nVERSION_ID="12"\n')
    for d, mode in (("home/nonroot", 0o700), ("root", 0o700), ("tmp", 0o1777),
                    ("proc", 0o555), ("dev", 0o755), ("data", 0o700)):
        os.makedirs(os.path.join(root, d), exist_ok=True)
        os.chmod(os.path.join(root, d), mode)
    os.chown(os.path.join(root, "home/nonroot"), NONROOT, NONROOT)
    for f in ("hosts", "resolv.conf", "hostname"):  # the runtime's bind targets
        write(root, f"etc/{f}", "")
    # The Dockerfile's runtime stage.
    uid, gid = df.user()
    dest = os.path.join(root, "usr/local/bin/portcullis")
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.copy(binary, dest)
    os.chmod(dest, 0o755)
    os.chown(os.path.join(root, "data"), uid, gid)


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


# ------------------------------------------------------------------- the container runtime

def mount(*args):
    run(["mount"] + list(args))


def start_container(root, volume, scratch):
    """Read-only root, a writable /data volume, tmpfs /tmp, /proc, a minimal /dev and
    /etc/hosts: what `docker run --read-only --tmpfs /tmp -v vol:/data` provides."""
    mount("--bind", root, root)
    mount("-o", "remount,bind,ro", root)
    mount("--bind", volume, os.path.join(root, "data"))
    mount("-t", "tmpfs", "-o", "mode=1777,size=64m", "tmpfs", os.path.join(root, "tmp"))
    mount("-t", "proc", "proc", os.path.join(root, "proc"))
    dev = os.path.join(root, "dev")
    mount("-t", "tmpfs", "-o", "mode=755,size=1m", "tmpfs", dev)
    for node in ("null", "zero", "full", "random", "urandom"):
        open(os.path.join(dev, node), "w").close()
        mount("--bind", f"/dev/{node}", os.path.join(dev, node))
    hosts = os.path.join(scratch, "hosts")
    with open(hosts, "w") as f:
        f.write("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    mount("--bind", "-o", "ro", hosts, os.path.join(root, "etc/hosts"))


class Container:
    def __init__(self, root, df):
        self.root = root
        self.uid, self.gid = df.user()
        self.workdir = df.last("WORKDIR") or "/"
        self.env = {"PATH": DISTROLESS_PATH, "SSL_CERT_FILE": CA_BUNDLE,
                    "HOSTNAME": "portcullis", "HOME": "/"}
        self.env.update(df.env())

    def _enter(self):
        libc = ctypes.CDLL(None, use_errno=True)
        os.chroot(self.root)
        os.chdir(self.workdir)
        os.setgroups([])
        os.setgid(self.gid)
        os.setuid(self.uid)  # from root to another uid: every capability is dropped
        PR_SET_NO_NEW_PRIVS = 38
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")

    def popen(self, argv, **kw):
        return subprocess.Popen(argv, env=self.env, preexec_fn=self._enter,
                                stdin=subprocess.DEVNULL, **kw)

    def run(self, argv, stdin=None, timeout=60):
        return subprocess.run(argv, env=self.env, preexec_fn=self._enter, input=stdin,
                              capture_output=True, text=True, timeout=timeout)


def http(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def rehearse(args):
    df = Dockerfile(open(DOCKERFILE).read())
    check_dockerfile(df)

    binary = os.path.abspath(args.binary)
    must(os.path.isfile(binary), f"binary {binary} exists (cargo build --locked --bin portcullis)")
    allowed = df.ldd_allowed()
    must(allowed is not None, "the build stage checks the binary with ldd")
    needed = [l.split()[0] for l in run(["ldd", binary]).splitlines() if l.strip()]
    extra = [lib for lib in needed if not allowed.search(lib)]
    check(not extra, f"the Dockerfile's ldd allow-list accepts every library ({needed}); extra: {extra}")

    scratch = tempfile.mkdtemp(prefix="portcullis-image-")
    procs = []
    try:
        root = os.path.join(scratch, "rootfs")
        volume = os.path.join(scratch, "volume")
        os.makedirs(root)
        build_rootfs(root, args.debs, df, binary)
        # The volume starts as the image's /data (Docker copies it into a new volume).
        os.makedirs(volume)
        uid, gid = df.user()
        os.chown(volume, uid, gid)
        os.chmod(volume, 0o700)
        start_container(root, volume, scratch)
        run(["ip", "link", "set", "lo", "up"])
        c = Container(root, df)

        r = c.run(["/usr/local/bin/portcullis", "--version"])
        must(r.returncode == 0 and r.stdout.startswith("portcullis"),
             f"the binary runs in cc-debian12's files as uid {uid}: {r.stdout.strip() or r.stderr.strip()}")
        try:
            shell = c.run(["/bin/sh", "-c", "true"]).returncode
        except FileNotFoundError:
            shell = None
        check(shell is None, "no shell in the image (the rehearsal is not using the host's files)")

        # A client made with the CLI inside the container, before the server starts.
        out = c.run(["/usr/local/bin/portcullis", "--json", "client", "create", "--name",
                     "Image rehearsal", "--client-id", "image-check",
                     "--grant", "client_credentials"])
        must(out.returncode == 0, "client create in the container"
             + ("" if out.returncode == 0 else f": {out.stderr.strip()[-300:]}"))
        secret = json.loads(out.stdout)["client_secret"]

        logf = open(os.path.join(scratch, "server.log"), "wb")
        server = c.popen(["/usr/local/bin/portcullis", "serve"], stdout=subprocess.DEVNULL,
                         stderr=logf)
        procs.append(server)
        public = "http://127.0.0.1:" + c.env["PORTCULLIS_HTTP__BIND"].rsplit(":", 1)[1]
        admin = "http://127.0.0.1:" + c.env["PORTCULLIS_ADMIN__BIND"].rsplit(":", 1)[1]
        deadline = time.monotonic() + args.timeout
        ready = False
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if http("GET", admin + "/health/ready")[0] == 200:
                    ready = True
                    break
            except OSError:
                pass
            time.sleep(0.2)
        if not ready:
            logf.flush()
            sys.stderr.write(open(os.path.join(scratch, "server.log")).read()[-3000:])
        must(ready, "serve becomes ready with the Dockerfile's environment on a read-only root")

        status, body = http("GET", public + "/.well-known/openid-configuration")
        doc = json.loads(body) if status == 200 else {}
        check(doc.get("issuer") == "http://127.0.0.1:8080",
              f"discovery names the default loopback issuer ({doc.get('issuer')})")
        jwks_uri = doc.get("jwks_uri", "")
        status, body = http("GET", public + jwks_uri[len(doc.get("issuer", "")):])
        keys = json.loads(body).get("keys", []) if status == 200 else []
        check(any(k.get("alg") == "RS256" for k in keys), f"JWKS holds an RS256 key ({len(keys)} keys)")
        status, body = http("GET", admin + "/metrics")
        check(status == 200 and b"process_resident_memory_bytes" in body,
              "process_* metrics, read from the container's /proc")
        basic = base64.b64encode(f"image-check:{secret}".encode()).decode()
        status, body = http("POST", public + "/token", b"grant_type=client_credentials",
                            {"Authorization": f"Basic {basic}",
                             "Content-Type": "application/x-www-form-urlencoded"})
        check(status == 200 and "access_token" in json.loads(body),
              f"a client_credentials token from the container ({status})")

        hc = df.healthcheck()
        r = c.run(hc)
        check(r.returncode == 0, f"HEALTHCHECK {hc} exits 0 while serving ({r.stderr.strip()})")

        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = None
        check(code == 0, f"SIGTERM stops serve with status 0 ({code})")
        r = c.run(hc)
        check(r.returncode != 0, f"HEALTHCHECK fails once the server is gone ({r.returncode})")

        try:
            open(os.path.join(root, "written-by-root"), "w").close()
            read_only = False
        except OSError:
            read_only = True
        check(read_only, "the root file system is read-only")
        loose = []
        for dirpath, dirs, files in os.walk(volume):
            for name in dirs + files:
                st = os.lstat(os.path.join(dirpath, name))
                if st.st_uid != uid or st.st_mode & 0o007:
                    loose.append(f"{os.path.relpath(os.path.join(dirpath, name), volume)} "
                                 f"uid={st.st_uid} mode={oct(st.st_mode & 0o7777)}")
        written = sum(len(f) for _, _, f in os.walk(volume))
        check(written > 0 and not loose,
              f"{written} files under /data, all the USER's and closed to others {loose}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        # The mounts vanish with the namespace; unmount anyway so the files can go.
        subprocess.run(["umount", "-R", os.path.join(scratch, "rootfs")], capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)


def self_test(args):
    """Proves the checks can fail: broken copies of the Dockerfile, and a root file system
    without a library the binary needs, must each be caught."""
    text = open(DOCKERFILE).read()
    digest = re.compile(r"@sha256:[0-9a-f]{64}")
    breakages = {
        "a base image by tag only": digest.sub("", text, count=1),
        "USER root": re.sub(r"(?m)^USER .*$", "USER 0:0", text),
        "a readiness HEALTHCHECK": text.replace('"healthcheck", "--live"]', '"healthcheck"]'),
        "a package installed into the runtime stage": text.replace(
            "USER 10001:10001", "RUN apt-get install -y libpq5\nUSER 10001:10001"),
    }
    caught = 0
    for what, broken in breakages.items():
        assert broken != text, f"the self-test's breakage '{what}' no longer applies"
        checks["muted"] = 0
        check_dockerfile(Dockerfile(broken))
        failures = checks.pop("muted")
        if check(failures > 0, f"self-test: {what} is caught ({failures} check(s) failed)"):
            caught += 1
    # A root file system without libgcc_s: the binary must not start.
    scratch = tempfile.mkdtemp(prefix="portcullis-image-selftest-")
    try:
        root = os.path.join(scratch, "rootfs")
        os.makedirs(root)
        df = Dockerfile(text)
        build_rootfs(root, args.debs, df, os.path.abspath(args.binary), leave_out=("libgcc-s1",))
        r = Container(root, df).run(["/usr/local/bin/portcullis", "--version"])
        check(r.returncode != 0 and "libgcc_s" in r.stderr,
              f"self-test: without libgcc-s1 the binary does not start ({r.stderr.strip()[:120]})")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return caught


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.path.join(REPO, "target/debug/portcullis"))
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--self-test", action="store_true",
                    help="first prove that broken Dockerfiles and a missing library are caught")
    ap.add_argument("--debs", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the rehearsal mounts, chroots and changes uid")
    if not args.debs:
        # Fetch the packages here, then run the rest in a mount and network namespace of
        # its own: every mount goes with it, and the Dockerfile's ports are free whatever
        # the host runs (the namespace has no network, so nothing can be fetched in it).
        debs = tempfile.mkdtemp(prefix="portcullis-image-debs-")
        try:
            download(debs)
            argv = ["unshare", "--mount", "--net", "--propagation", "private", "--",
                    sys.executable, os.path.abspath(__file__), "--debs", debs] + sys.argv[1:]
            code = subprocess.run(argv).returncode
        finally:
            shutil.rmtree(debs, ignore_errors=True)
        raise SystemExit(code)
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("rehearsal timed out")))
    signal.alarm(args.timeout + 120)
    try:
        if args.self_test:
            self_test(args)
        rehearse(args)
    finally:
        print(f"{checks['passed']} passed, {checks['failed']} failed", flush=True)
    if checks["failed"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
