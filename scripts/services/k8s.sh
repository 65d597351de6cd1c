#!/usr/bin/env bash
# dedup-lab test service `k8s`: a real Kubernetes control plane on 127.0.0.1 (etcd 3.6, kube-apiserver
# with RBAC, kube-controller-manager, kube-scheduler) plus kwok, which manages one fake node and makes
# the pods scheduled on it Running/Ready.  Nothing runs inside those pods: the systems' protocols are
# served by the local real servers of scripts/services.sh.
#
#   bash scripts/services/k8s.sh build    go build the pinned versions into the cache (skipped when present)
#   bash scripts/services/k8s.sh up       build if needed, certs, start, wait for the Ready fake node (idempotent)
#   bash scripts/services/k8s.sh down     stop everything (data in etcd survives)
#   bash scripts/services/k8s.sh status   one line
#   bash scripts/services/k8s.sh env      export KUBECONFIG=… (admin) DEDUP_LAB_K8S_SERVER=…
#
# Fresh-machine cost (2 cores, empty caches): ≈ 14 min build, ≈ 1.3 GB Go module cache + ≈ 4.6 GB Go
# build cache under $K8S_GO (kept so a rebuild takes < 1 min), binaries ≈ 460 MB.  Running set
# ≈ 600 MiB RSS; up from nothing to a Ready node ≈ 15 s.  scripts/services.sh calls this for `k8s`.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="${DEDUP_LAB_SERVICES_DIR:-/var/lib/dedup-lab-services}"
CACHE="${DEDUP_LAB_CACHE_DIR:-/var/cache/dedup-lab}"
ETCD_VERSION=3.6.16
K8S_VERSION=1.37.2
KWOK_VERSION=0.8.0
K8S_BIN="$CACHE/k8s-v$K8S_VERSION-etcd-v$ETCD_VERSION-kwok-v$KWOK_VERSION"
# own Go caches: the SeaweedFS install wipes $CACHE/go when it is done
K8S_GO="$CACHE/k8s-go"
DIR="$ROOT/k8s"
PKI="$DIR/pki"
APISERVER_PORT=56443 ETCD_PORT=52379 ETCD_PEER_PORT=52380
CM_PORT=50257 SCHED_PORT=50259 KWOK_PORT=50260 ETCD_METRICS_PORT=52381
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

say()  { printf '%s\n' "$*"; }
die()  { printf 'k8s.sh: %s\n' "$*" >&2; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---- build -----------------------------------------------------------------------------------------
built() { local b; for b in "${BINARIES[@]}"; do [[ -x $K8S_BIN/$b ]] || return 1; done; compgen -G "$K8S_BIN/kwok-stages/node-heartbeat-*.yaml" >/dev/null; }
go_env() {
  GO=go; command -v go >/dev/null || GO=/usr/local/go/bin/go
  command -v "$GO" >/dev/null || die "Go toolchain not found (needed to build the control plane)"
  export GOMODCACHE="$K8S_GO/mod" GOCACHE="$K8S_GO/build" GOFLAGS=-buildvcs=false GOTOOLCHAIN=local CGO_ENABLED=0
}
# throw-away module: `go install …@v` refuses modules whose go.mod has replace directives
scratch_module() {   # scratch_module DIR MODULE VERSION REPLACE_LINES IMPORT... (imports keep `go mod tidy` honest)
  local d=$1 i; rm -rf "$d"; mkdir -p "$d"
  printf 'module dedup-lab/k8s-build\n\ngo 1.25\n\nrequire %s %s\n%s\n' "$2" "$3" "$4" > "$d/go.mod"
  { printf 'package tools\n\n'; for i in "${@:5}"; do printf 'import _ "%s"\n' "$i"; done; } > "$d/tools.go"
}
build_etcd() {
  local d="$K8S_GO/src-etcd"
  scratch_module "$d" go.etcd.io/etcd/server/v3 "v$ETCD_VERSION" "" go.etcd.io/etcd/server/v3/etcdmain
  (cd "$d" && "$GO" mod tidy && "$GO" build -trimpath -ldflags='-s -w' -o "$K8S_BIN/etcd" go.etcd.io/etcd/server/v3)
}
build_kubernetes() {
  local d="$K8S_GO/src-k8s" gomod minor=${K8S_VERSION#*.} replaces
  gomod=$("$GO" mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
  [[ -f $gomod ]] || die "go mod download k8s.io/kubernetes@v$K8S_VERSION failed"
  # every staging module (k8s.io/x => ./staging/src/k8s.io/x) maps to its published v0.<minor>.<patch>
  replaces=$(sed -n 's#^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/.*#replace \1 => \1 v0.'"$minor"'#p' "$gomod")
  [[ -n $replaces ]] || die "no staging replace lines found in $gomod"
  scratch_module "$d" k8s.io/kubernetes "v$K8S_VERSION" "$replaces" k8s.io/kubernetes/cmd/kube-apiserver/app \
    k8s.io/kubernetes/cmd/kube-controller-manager/app k8s.io/kubernetes/cmd/kube-scheduler/app k8s.io/kubectl/pkg/cmd
  local v=k8s.io/component-base/version ld
  ld="-s -w -X $v.gitVersion=v$K8S_VERSION -X $v.gitMajor=${K8S_VERSION%%.*} -X $v.gitMinor=${minor%%.*} -X $v.gitTreeState=clean"
  ld+=" -X k8s.io/client-go/pkg/version.gitVersion=v$K8S_VERSION"
  (cd "$d" && "$GO" mod tidy && "$GO" build -trimpath -ldflags="$ld" -o "$K8S_BIN/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
}
build_kwok() {
  GOBIN="$K8S_BIN" "$GO" install -trimpath -ldflags='-s -w' "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION"
  # kwok exits with "no stages found" without stage files; the "fast" ones ship in its source
  local src; src=$("$GO" mod download -json "sigs.k8s.io/kwok@v$KWOK_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
  rm -rf "$K8S_BIN/kwok-stages.tmp"; mkdir -p "$K8S_BIN/kwok-stages.tmp"
  local kind f
  # fast node/pod stages, plus the node heartbeat: without it the node lifecycle
  # controller marks the node NotReady after 40 s and every pod on it un-Ready
  for kind in node/fast pod/fast node/heartbeat; do
    for f in "$src/kustomize/stage/$kind"/*.yaml; do
      [[ $(basename "$f") == kustomization.yaml ]] || cp "$f" "$K8S_BIN/kwok-stages.tmp/${kind//\//-}-$(basename "$f")"
    done
  done
  rm -rf "$K8S_BIN/kwok-stages"; mv "$K8S_BIN/kwok-stages.tmp" "$K8S_BIN/kwok-stages"
}
cmd_build() {
  built && return 0
  go_env; mkdir -p "$K8S_BIN" "$K8S_GO"
  local t0=$SECONDS
  say "k8s: building etcd v$ETCD_VERSION, Kubernetes v$K8S_VERSION, kwok v$KWOK_VERSION into $K8S_BIN (≈ 14 min on 2 cores with empty caches)" >&2
  [[ -x $K8S_BIN/etcd ]] || build_etcd
  [[ -x $K8S_BIN/kwok ]] && compgen -G "$K8S_BIN/kwok-stages/node-heartbeat-*.yaml" >/dev/null || build_kwok
  [[ -x $K8S_BIN/kubectl && -x $K8S_BIN/kube-apiserver ]] || build_kubernetes
  built || die "build finished but binaries are missing in $K8S_BIN"
  # the scratch modules are throw-away; the module and build caches stay so a rebuild is fast
  rm -rf "$K8S_GO"/src-*
  "$GO" clean -modcache -n >/dev/null 2>&1 || true
  say "k8s: built in $((SECONDS - t0))s" >&2
}

# ---- certificates (openssl) -----------------------------------------------------------------------
ca() { [[ -s $PKI/$1.crt ]] || openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$PKI/$1.key" -subj "/CN=$1" -days 3650 -sha256 -out "$PKI/$1.crt" 2>/dev/null; }
cert() {   # cert NAME SUBJECT [SAN]: a key + certificate signed by the CA (front-proxy-client by its own CA)
  local name=$1 subj=$2 san=${3:-} ca=ca
  [[ $name == front-proxy-client ]] && ca=front-proxy-ca
  [[ -s $PKI/$name.crt ]] && return 0
  openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  local ext="$PKI/$name.ext"
  { echo "basicConstraints=CA:FALSE"; echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [[ -n $san ]]; then echo "extendedKeyUsage=serverAuth,clientAuth"; echo "subjectAltName=$san"; else echo "extendedKeyUsage=clientAuth"; fi; } > "$ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -CAcreateserial -days 3650 -sha256 \
    -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$ext"
}
kubeconfig() {   # kubeconfig NAME CERT: a kubeconfig that authenticates with the client certificate CERT
  local f="$DIR/$1.kubeconfig"
  [[ -s $f ]] && return 0
  printf '%s\n' "apiVersion: v1" "kind: Config" "clusters:" "- name: dedup-lab" \
    "  cluster: { server: \"https://127.0.0.1:$APISERVER_PORT\", certificate-authority: \"$PKI/ca.crt\" }" \
    "users:" "- name: $2" "  user: { client-certificate: \"$PKI/$2.crt\", client-key: \"$PKI/$2.key\" }" \
    "contexts:" "- name: dedup-lab" "  context: { cluster: dedup-lab, user: $2 }" "current-context: dedup-lab" > "$f"
  chmod 600 "$f"
}
make_pki() {
  mkdir -p "$PKI"; chmod 700 "$PKI"
  ca ca; ca front-proxy-ca
  [[ -s $PKI/sa.key ]] || { openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null; openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null; }
  cert apiserver /CN=kube-apiserver "IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  cert admin "/O=system:masters/CN=kubernetes-admin"
  cert controller-manager /CN=system:kube-controller-manager
  cert scheduler /CN=system:kube-scheduler
  cert kwok "/O=system:masters/CN=kwok"
  cert front-proxy-client /CN=front-proxy-client
  kubeconfig admin admin; kubeconfig controller-manager controller-manager; kubeconfig scheduler scheduler; kubeconfig kwok kwok
}

# ---- processes -------------------------------------------------------------------------------------
pid_file() { echo "$DIR/run/$1.pid"; }
pid_of_component() {
  local pf pid; pf=$(pid_file "$1"); [[ -s $pf ]] || return 1
  pid=$(tr -dc '0-9' < "$pf")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$K8S_BIN/$1" || return 1
  echo "$pid"
}
start_component() {   # start_component NAME ARGS...: in its own session, logs under $DIR/log
  local name=$1; shift
  pid_of_component "$name" >/dev/null && return 0
  setsid "$K8S_BIN/$name" "$@" >>"$DIR/log/$name.log" 2>&1 </dev/null 9>&- &
  echo $! > "$(pid_file "$name")"
}
stop_component() {
  local pid i; pid=$(pid_of_component "$1") || { rm -f "$(pid_file "$1")"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$(pid_file "$1")"
}
kubectl() { "$K8S_BIN/kubectl" --kubeconfig "$DIR/admin.kubeconfig" "$@"; }
wait_until() {   # wait_until SECONDS WHAT CMD...
  local limit=$1 what=$2 start=$SECONDS; shift 2
  until "$@" >/dev/null 2>&1; do
    (( SECONDS - start < limit )) || { tail -n 20 "$DIR"/log/*.log >&2; die "$what not ready within ${limit}s"; }
    sleep 0.3
  done
}
etcd_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'; }
apiserver_ready() { curl -fsS --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "https://127.0.0.1:$APISERVER_PORT/readyz" | grep -q ok; }
node_ready() { [[ $(kubectl get node kwok-node-0 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]]; }

start_control_plane() {
  local p=$PKI
  start_component etcd --name dedup-lab --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "dedup-lab=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls "http://127.0.0.1:$ETCD_METRICS_PORT" \
    --quota-backend-bytes 1073741824 --log-level warn
  wait_until 60 etcd etcd_healthy
  start_component kube-apiserver --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" --endpoint-reconciler-type none \
    --authorization-mode RBAC --client-ca-file "$p/ca.crt" --tls-cert-file "$p/apiserver.crt" --tls-private-key-file "$p/apiserver.key" \
    --service-account-key-file "$p/sa.pub" --service-account-signing-key-file "$p/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local --service-cluster-ip-range 10.96.0.0/16 \
    --requestheader-client-ca-file "$p/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- --proxy-client-cert-file "$p/front-proxy-client.crt" \
    --proxy-client-key-file "$p/front-proxy-client.key" --profiling=false
  wait_until 120 kube-apiserver apiserver_ready
}
start_controllers() {
  local p=$PKI cm="$DIR/controller-manager.kubeconfig" sc="$DIR/scheduler.kubeconfig"
  start_component kube-controller-manager --kubeconfig "$cm" --authentication-kubeconfig "$cm" --authorization-kubeconfig "$cm" \
    --bind-address 127.0.0.1 --secure-port "$CM_PORT" --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file "$p/sa.key" --root-ca-file "$p/ca.crt" \
    --cluster-signing-cert-file "$p/ca.crt" --cluster-signing-key-file "$p/ca.key" --profiling=false
  start_component kube-scheduler --kubeconfig "$sc" --authentication-kubeconfig "$sc" --authorization-kubeconfig "$sc" \
    --bind-address 127.0.0.1 --secure-port "$SCHED_PORT" --leader-elect=false --profiling=false
  local stages=() f; for f in "$K8S_BIN"/kwok-stages/*.yaml; do stages+=(--config "$f"); done
  start_component kwok --kubeconfig "$DIR/kwok.kubeconfig" "${stages[@]}" \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake --server-address "127.0.0.1:$KWOK_PORT"
  # the one fake node kwok manages (no taint: every pod may land on it)
  printf '%s\n' "apiVersion: v1" "kind: Node" "metadata:" "  name: kwok-node-0" \
    "  annotations: { kwok.x-k8s.io/node: fake }" "  labels: { type: kwok, kubernetes.io/hostname: kwok-node-0 }" \
    | kubectl apply -f - >/dev/null
  wait_until 60 "fake node kwok-node-0" node_ready
}

cmd_up() {
  [[ $(id -u) -eq 0 ]] || die "must run as root"
  command -v openssl >/dev/null && command -v curl >/dev/null || die "openssl and curl are needed"
  cmd_build
  mkdir -p "$DIR/log" "$DIR/run" "$DIR/etcd"; chmod 700 "$DIR/etcd"
  make_pki
  start_control_plane
  start_controllers
}
cmd_down() { local i; for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do stop_component "${COMPONENTS[$i]}"; done; }
cmd_check() {   # prints the server version when the apiserver is ready and the fake node is Ready
  apiserver_ready && node_ready || return 1
  curl -fsS --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "https://127.0.0.1:$APISERVER_PORT/version" \
    | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/kubernetes-\1/p'
}
cmd_status() {
  local c down=() v
  for c in "${COMPONENTS[@]}"; do pid_of_component "$c" >/dev/null || down+=("$c"); done
  if [[ ${#down[@]} -eq 0 ]] && v=$(cmd_check); then say "up k8s 127.0.0.1:$APISERVER_PORT $v"
  else say "down k8s 127.0.0.1:$APISERVER_PORT ${down[*]}"; return 1; fi
}
cmd_env() { say "export KUBECONFIG=$DIR/admin.kubeconfig DEDUP_LAB_K8S_SERVER=https://127.0.0.1:$APISERVER_PORT DEDUP_LAB_KUBECTL=$K8S_BIN/kubectl"; }

case ${1:-} in
  build) cmd_build ;;
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  check) cmd_check ;;
  pid) for c in "${COMPONENTS[@]}"; do pid_of_component "$c" >/dev/null || exit 1; done; pid_of_component kube-apiserver ;;   # "running" = every component
  env) cmd_env ;;
  *) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
