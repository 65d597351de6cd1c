# shellcheck shell=bash
# Storage layers under the test servers (SPEC §12), sourced by scripts/services.sh.
#
# One variable per service picks the file system its data directory sits on:
#   DEDUP_LAB_PG_STORAGE DEDUP_LAB_MARIADB_STORAGE DEDUP_LAB_CLICKHOUSE_STORAGE DEDUP_LAB_REDIS_STORAGE
#   DEDUP_LAB_NATS_STORAGE DEDUP_LAB_KAFKA_STORAGE DEDUP_LAB_S3_STORAGE
# Values: dir (default: the plain directory, as before), ext4, btrfs, btrfs-zstd (compress=zstd),
# btrfs-dedup (btrfs deduplicated offline by duperemove), xfs-dedup (XFS reflink=1 + duperemove).
#
# Each (service, layer) has a sparse image file $ROOT/.storage/<service>-<layer>.img (size
# DEDUP_LAB_STORAGE_SIZE, default 8G), loop-mounted at $ROOT/.storage/mnt/<service>-<layer>; the
# service's data folders are bind-mounted from it (Kafka: data and metadata, so the log dir and the
# KRaft metadata stay one cluster). The plain folders stay underneath, untouched: switching back to
# `dir` shows the old data again. Only loop devices, only under $ROOT. Idempotent: an up with the
# layer already mounted changes nothing; `down` unmounts.
STORAGE_LAYERS=(dir ext4 btrfs btrfs-zstd btrfs-dedup xfs-dedup)
STORAGE_ROOT="$ROOT/.storage"

storage_var_of() {
  case $1 in
    postgresql) echo DEDUP_LAB_PG_STORAGE ;; mariadb) echo DEDUP_LAB_MARIADB_STORAGE ;;
    clickhouse) echo DEDUP_LAB_CLICKHOUSE_STORAGE ;; redis) echo DEDUP_LAB_REDIS_STORAGE ;;
    nats) echo DEDUP_LAB_NATS_STORAGE ;; kafka) echo DEDUP_LAB_KAFKA_STORAGE ;; s3) echo DEDUP_LAB_S3_STORAGE ;;
    *) echo "" ;;
  esac
}
# The folders a layer holds, relative to the service dir.
storage_dirs_of() {
  case $1 in
    kafka) echo data metadata ;; nats) echo store ;;
    s3) echo "${S3_DATA#"$(dir_of s3)/"}" ;;
    postgresql|mariadb|clickhouse|redis) echo data ;;
  esac
}
storage_layer_of() {
  local var; var=$(storage_var_of "$1")
  [[ -n $var ]] || { echo dir; return; }
  local layer=${!var:-dir}
  local l; for l in "${STORAGE_LAYERS[@]}"; do [[ $l == "$layer" ]] && { echo "$layer"; return; }; done
  die "$var must be one of ${STORAGE_LAYERS[*]}, not '$layer'"
}
storage_tools() {   # the mkfs / dedup tools a layer needs, installed when missing
  local pkgs=()
  case $1 in
    btrfs|btrfs-zstd) command -v mkfs.btrfs >/dev/null || pkgs+=(btrfs-progs) ;;
    btrfs-dedup) command -v mkfs.btrfs >/dev/null || pkgs+=(btrfs-progs); command -v duperemove >/dev/null || pkgs+=(duperemove) ;;
    xfs-dedup) command -v mkfs.xfs >/dev/null || pkgs+=(xfsprogs); command -v duperemove >/dev/null || pkgs+=(duperemove) ;;
    ext4) command -v mkfs.ext4 >/dev/null || pkgs+=(e2fsprogs) ;;
  esac
  [[ ${#pkgs[@]} -eq 0 ]] || apt_install "${pkgs[@]}"
}
storage_mkfs() {   # IMAGE LAYER
  case $2 in
    ext4) mkfs.ext4 -q -F -L dedup-lab "$1" ;;
    btrfs|btrfs-zstd|btrfs-dedup) mkfs.btrfs -q -f -L dedup-lab "$1" >/dev/null ;;
    xfs-dedup) mkfs.xfs -q -f -m reflink=1 -L dedup-lab "$1" ;;
  esac
}
storage_mount_options() { case $1 in btrfs-zstd) echo loop,noatime,compress=zstd ;; *) echo loop,noatime ;; esac; }
is_mountpoint() { findmnt -n --mountpoint "$1" >/dev/null 2>&1; }

# Unmount whatever layer a service's folders sit on (the service must be stopped).
storage_release() {
  local svc=$1 d base m
  base=$(dir_of "$svc")
  for d in $(storage_dirs_of "$svc"); do
    while is_mountpoint "$base/$d"; do umount "$base/$d" || { warn "$svc: cannot unmount $base/$d"; return 1; }; done
  done
  for m in "$STORAGE_ROOT/mnt/$svc"-*; do
    [[ -d $m ]] || continue
    while is_mountpoint "$m"; do umount "$m" || { warn "$svc: cannot unmount $m"; return 1; }; done
  done
  rm -f "$STORAGE_ROOT/$svc.layer"
}

# Put a service's folders on its chosen layer before it starts (no-op when already there).
storage_prepare() {
  local svc=$1 layer owner=${2:-root} base mnt img d
  [[ -n $(storage_var_of "$svc") ]] || return 0
  layer=$(storage_layer_of "$svc")
  if [[ $(cat "$STORAGE_ROOT/$svc.layer" 2>/dev/null || echo dir) == "$layer" ]] && { [[ $layer == dir ]] || is_mountpoint "$STORAGE_ROOT/mnt/$svc-$layer"; }; then return 0; fi
  storage_release "$svc" || return 1
  [[ $layer == dir ]] && return 0
  storage_tools "$layer"
  base=$(dir_of "$svc") mnt="$STORAGE_ROOT/mnt/$svc-$layer" img="$STORAGE_ROOT/$svc-$layer.img"
  mkdir -p "$STORAGE_ROOT" "$mnt"; chmod 700 "$STORAGE_ROOT"
  if [[ ! -f $img ]]; then
    truncate -s "${DEDUP_LAB_STORAGE_SIZE:-8G}" "$img.tmp"
    storage_mkfs "$img.tmp" "$layer" || { rm -f "$img.tmp"; warn "$svc: mkfs for $layer failed"; return 1; }
    mv "$img.tmp" "$img"
  fi
  mount -o "$(storage_mount_options "$layer")" "$img" "$mnt" || { warn "$svc: mounting $img failed"; return 1; }
  chmod 755 "$mnt"
  for d in $(storage_dirs_of "$svc"); do
    mkdir -p "$base/$d" "$mnt/$d"
    # The data folder keeps the owner and mode its server expects (PostgreSQL insists on 0700).
    chown --reference="$base/$d" "$mnt/$d" 2>/dev/null || chown "$owner:" "$mnt/$d"
    chmod --reference="$base/$d" "$mnt/$d" 2>/dev/null || true
    mount --bind "$mnt/$d" "$base/$d" || { warn "$svc: bind mount of $mnt/$d failed"; return 1; }
  done
  echo "$layer" > "$STORAGE_ROOT/$svc.layer"
  say "$svc: data on $layer ($img)" >&2
}

# `services.sh storage` : one line per service with its layer, file system and usage.
storage_status() {
  local s d base
  for s in "${ALL_SERVICES[@]}"; do
    [[ -n $(storage_var_of "$s") ]] || continue
    base=$(dir_of "$s") d=$(storage_dirs_of "$s"); d=${d%% *}
    say "$s $(cat "$STORAGE_ROOT/$s.layer" 2>/dev/null || echo dir) $(findmnt -n -o FSTYPE,OPTIONS --target "$base/$d" 2>/dev/null | head -n1)"
  done
}
