#!/usr/bin/env bash
# CI: the Kubernetes recipe, checked offline (there is no cluster and no container engine here).
#
# 1. deploy/k8s-indexed-job.yaml and deploy/k8s-merge-job.yaml are valid batch/v1 Jobs for
#    Kubernetes 1.29 (the first with backoffLimitPerIndex on by default) and 1.37: PyPI's
#    kubernetes-validate, which bundles the API's JSON schemas, in strict mode (unknown fields
#    are errors). It needs no network once installed.
# 2. It really rejects broken manifests: a copy with a wrong type and a copy with a misspelled
#    field must both fail.
# 3. What the schema cannot see: the rules the API server adds (Indexed needs completions,
#    backoffLimitPerIndex needs restartPolicy Never), and that the manifests agree with
#    deploy/Containerfile (image stratbox:<Cargo.toml version>, entrypoint stratbox), with each
#    other (the merge reads what the shards write) and with N (completions = --shard N).
#
# The image itself is not built here: see deploy/Containerfile.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=1.37.0 # kubernetes-validate, pinned
VENV=target/k8s-validate-venv
if [[ "$("$VENV/bin/kubernetes-validate" --version 2>/dev/null)" != "$VERSION" ]]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "kubernetes-validate==$VERSION"
fi
KV="$VENV/bin/kubernetes-validate"

passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

manifests=(deploy/k8s-indexed-job.yaml deploy/k8s-merge-job.yaml)
for k in 1.29.0 1.37.0; do
  if "$KV" --strict --kubernetes-version "$k" "${manifests[@]}"; then
    pass "manifests are valid Jobs for Kubernetes $k (strict schema)"
  else
    fail "manifests do not validate for Kubernetes $k"
  fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A broken copy must be rejected, or the check above proves nothing.
negative() { # WHAT SED-EXPRESSION
  local copy="$tmp/broken.yaml"
  sed "$2" deploy/k8s-indexed-job.yaml >"$copy"
  if cmp -s "$copy" deploy/k8s-indexed-job.yaml; then
    fail "negative check '$1': the sed expression changed nothing"
  elif "$KV" --strict --kubernetes-version 1.37.0 "$copy" >"$tmp/out" 2>&1; then
    fail "negative check '$1': the broken copy was accepted"
  else
    pass "a copy with $1 is rejected: $(grep -o 'did not validate.*' "$tmp/out" | head -1)"
  fi
}
negative "completions: four (wrong type)" 's/^  completions: 4 /  completions: four /'
negative "backoffLimitPerIdx (misspelled field)" 's/^  backoffLimitPerIndex:/  backoffLimitPerIdx:/'

# Agreement between the files (PyYAML comes with kubernetes-validate).
if "$VENV/bin/python" - <<'EOF'
import re, sys, tomllib, yaml

version = tomllib.load(open("Cargo.toml", "rb"))["package"]["version"]
image = f"stratbox:{version}"
containerfile = open("deploy/Containerfile").read()
grid = yaml.safe_load(open("deploy/k8s-indexed-job.yaml"))
merge = yaml.safe_load(open("deploy/k8s-merge-job.yaml"))
problems = []

def check(ok, what):
    if not ok:
        problems.append(what)

spec = grid["spec"]
pod = spec["template"]["spec"]
(c,) = pod["containers"]
check(spec.get("completionMode") == "Indexed", "the grid Job is not Indexed")
check(isinstance(spec.get("completions"), int), "an Indexed Job needs completions")
check(pod.get("restartPolicy") == "Never", "backoffLimitPerIndex needs restartPolicy: Never")
check(f"-t {image} " in containerfile, f"deploy/Containerfile does not build {image}")
check(re.search(r'^ENTRYPOINT \["stratbox"\]$', containerfile, re.M), "the image's entrypoint is not stratbox")
for name, job in (("grid", grid), ("merge", merge)):
    for ctr in job["spec"]["template"]["spec"]["containers"]:
        check(ctr["image"] == image, f"the {name} Job runs {ctr['image']}, not {image}")
        check({"name": "results", "mountPath": "/results"} in ctr["volumeMounts"], f"the {name} Job does not mount /results")
args = c["args"]
check("command" not in c, "the shard container overrides the image's entrypoint")
check(args[0] == "discover", "the shards do not run `stratbox discover`")
n = args[args.index("--shard") + 1]
check(n == str(spec["completions"]), f"--shard {n} but completions: {spec['completions']}")
out = args[args.index("--output") + 1]
check(out == "/results/shard-$(JOB_COMPLETION_INDEX).parquet", f"unexpected shard output {out}")
claims = {j["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] for j in (grid, merge)}
check(len(claims) == 1, f"the Jobs use different volumes: {claims}")
(m,) = merge["spec"]["template"]["spec"]["containers"]
check(m["args"] == ["stratbox merge /results/shard-*.parquet --output /results/results.parquet"], "the merge does not read what the shards write")
for p in problems:
    print("  " + p)
sys.exit(1 if problems else 0)
EOF
then
  pass "the manifests agree with deploy/Containerfile, with each other and with N"
else
  fail "the manifests and deploy/Containerfile disagree (above)"
fi

echo "k8s: $passed passed, $failed failed"
[[ $failed == 0 ]]
