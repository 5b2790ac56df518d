#!/usr/bin/env bash
# Checks the deployments without a cluster or a Docker engine:
#  1. every manifest of the kustomize base in deploy/k8s against the Kubernetes API schemas,
#     strictly (unknown fields are errors), for each version in ONI_K8S_VERSIONS, with
#     kubernetes-validate from PyPI; and, when kubectl (or kustomize) is installed, the base
#     as kustomize renders it (generated Secret and rewritten names included);
#  2. deploy/docker/compose.yaml and the manifests against the executables they run
#     (deploy/k8s/check_wiring.py): every option and subcommand exists in that executable's
#     --help, and every endpoint reaches the port the right role binds.
# Usage: bash deploy/k8s/validate.sh [BIN_DIR]   (default: ONI_BIN, else .build/debug)
# kubernetes-validate goes into the tests' venv (ONI_TEST_VENV, default
# ~/.cache/oni/test-venv). Exits non-zero naming every problem.
set -euo pipefail
cd "$(dirname "$0")/../.."

bin=${1:-${ONI_BIN:-.build/debug}}
venv=${ONI_TEST_VENV:-$HOME/.cache/oni/test-venv}
versions=${ONI_K8S_VERSIONS:-1.30.0 1.37.0}
validator_version=1.37.0

if [[ $("$venv/bin/kubernetes-validate" --version 2>/dev/null) != *"$validator_version"* ]] \
  || ! "$venv/bin/python" -c "import yaml" 2>/dev/null; then
  echo "validate: installing kubernetes-validate==$validator_version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$validator_version"
fi

failed=()
manifests=$("$venv/bin/python" -c '
import yaml
print("\n".join("deploy/k8s/" + name for name in yaml.safe_load(open("deploy/k8s/kustomization.yaml"))["resources"]))')
mapfile -t manifests <<<"$manifests"

for version in $versions; do
  if "$venv/bin/kubernetes-validate" --strict --quiet -k "$version" "${manifests[@]}"; then
    echo "validate: ${#manifests[@]} manifests match the Kubernetes $version schemas (strict)"
  else
    failed+=("manifests against the Kubernetes $version schemas")
  fi
done

# The rendered base: kustomize needs the CURVE key files, so a copy gets placeholders.
kustomize_cmd=()
if command -v kustomize >/dev/null; then kustomize_cmd=(kustomize build)
elif command -v kubectl >/dev/null && kubectl kustomize --help >/dev/null 2>&1; then kustomize_cmd=(kubectl kustomize)
fi
if ((${#kustomize_cmd[@]})); then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  cp -r deploy/k8s "$work/base"
  rm -rf "$work/base/curve"
  mkdir "$work/base/curve"
  for file in server.key server.pub client.key client.pub authorized_clients worker-{0,1,2,3}.key; do
    echo "placeholder" >"$work/base/curve/$file"
  done
  if "${kustomize_cmd[@]}" "$work/base" >"$work/rendered.yaml" 2>"$work/kustomize.log"; then
    for version in $versions; do
      if "$venv/bin/kubernetes-validate" --strict --quiet -k "$version" "$work/rendered.yaml"; then
        echo "validate: the base as '${kustomize_cmd[*]}' renders it ($(grep -c '^kind:' "$work/rendered.yaml") resources) matches the Kubernetes $version schemas"
      else
        failed+=("the rendered base against the Kubernetes $version schemas")
      fi
    done
  else
    cat "$work/kustomize.log" >&2
    failed+=("'${kustomize_cmd[*]}' could not render deploy/k8s")
  fi
else
  echo "validate: neither kustomize nor kubectl is installed: the rendered base was not checked (each manifest was)"
fi

if ! "$venv/bin/python" deploy/k8s/check_wiring.py . "$bin"; then
  failed+=("flags and ports against $bin (listed above)")
fi

if ((${#failed[@]})); then
  printf 'validate: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "validate: ok"
