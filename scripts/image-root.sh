# Sourced by make-base-image.sh and make-tool-images.sh: what every image
# root made from host binaries needs besides them.

# write_system_files STAGE: users (root, nobody, seedbox as 10001, the uid
# the chart runs as), name service switch, and the host's CA bundle.
write_system_files() {
  local stage="$1"
  mkdir -p "$stage/etc/ssl/certs"
  cat >"$stage/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
seedbox:x:10001:10001:seedbox:/tmp:/usr/sbin/nologin
EOF
  cat >"$stage/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
seedbox:x:10001:
EOF
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$stage/etc/nsswitch.conf"
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    cp -L /etc/ssl/certs/ca-certificates.crt "$stage/etc/ssl/certs/ca-certificates.crt"
  fi
}
