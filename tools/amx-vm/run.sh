#!/usr/bin/env bash
# tools/amx-vm/run.sh: run glora's bf16 tests on an emulated Sapphire
# Rapids CPU (AVX-512, AVX512-BF16, AMX-BF16) under Linux, on any x86-64
# machine: Bochs 3.0 (patched, see README.md) boots Debian's 6.12 cloud
# kernel with an initramfs whose init runs the test binaries.
#
#   tools/amx-vm/run.sh                      # the default bf16 test set
#   tools/amx-vm/run.sh ./tensor 'Sbgemm'    # PACKAGE TEST-REGEX pairs
#
# Everything is fetched from Debian's archive once into $AMXVM_DIR
# (default ~/.cache/glora/amx-vm); a run takes 3-10 minutes. Exit status 0
# when every test binary passed.
set -euo pipefail
if [ $(($# % 2)) -ne 0 ] || [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
  echo "usage: $0 [PACKAGE TEST-REGEX]...   (e.g. $0 ./tensor 'Sbgemm|BF16')" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/tools/amx-vm"
work=${AMXVM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/glora/amx-vm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$work"
cd "$work"

need() { command -v "$1" >/dev/null || { echo "amx-vm: needs $1 (Debian: apt-get install $2)" >&2; exit 1; }; }
need xorriso xorriso
need cpio cpio
need g++ g++
[ -e /usr/lib/ISOLINUX/isolinux.bin ] || { echo "amx-vm: needs isolinux (apt-get install isolinux syslinux-common)" >&2; exit 1; }

# The archive's file name of a trixie package (binary or source).
pool_file() { # INDEX PACKAGE-REGEX
  local idx="${1//\//-}.idx"
  [ -s "$idx" ] || curl -fsSL "$mirror/dists/trixie/main/$1.xz" | xz -dc > "$idx"
  awk -v re="$2" '$1=="Package:" {p = ($2 ~ re)} p && $1=="Filename:" {print $2}' "$idx" | sort -V | tail -1
}

# 1. Bochs 3.0 with AVX-512 and AMX, patched (bochs-amx.patch).
if ! [ -x bochs-3.0/bochs ]; then
  echo "amx-vm: building Bochs 3.0 (a few minutes)"
  curl -fsSL -o bochs.tar.xz "$mirror/pool/main/b/bochs/bochs_3.0+dfsg.orig.tar.xz"
  rm -rf bochs-3.0 && tar -xf bochs.tar.xz
  (cd bochs-3.0 && patch -p1 < "$here/bochs-amx.patch" >/dev/null &&
    ./configure --enable-x86-64 --enable-cpu-level=6 --enable-avx --enable-evex --enable-amx \
      --enable-all-optimizations --enable-pci --enable-cdrom --with-nogui --disable-plugins >/dev/null &&
    make -j"$(nproc)" >build.log 2>&1) || { tail -20 bochs-3.0/build.log; exit 1; }
fi
# BIOS images: Bochs's own (bochsbios) and the LGPL VGA BIOS (vgabios).
for pkg in bochsbios vgabios; do
  if ! [ -e "$pkg.deb" ]; then
    f=$(pool_file binary-all/Packages "^$pkg\$")
    curl -fsSL -o "$pkg.deb" "$mirror/$f"
    mkdir -p bios && dpkg-deb -x "$pkg.deb" bios
  fi
done
# 2. Debian's cloud kernel (6.12 boots under Bochs; 6.1 hangs in early boot).
if ! [ -e vmlinuz ]; then
  f=$(pool_file binary-amd64/Packages '^linux-image-6\.12.*-cloud-amd64-unsigned$')
  curl -fsSL -o kernel.deb "$mirror/$f"
  rm -rf kernel && dpkg-deb -x kernel.deb kernel && cp kernel/boot/vmlinuz-* vmlinuz
fi

# 3. The initramfs: our init and the test binaries (static, no cgo).
rm -rf root iso && mkdir -p root/t iso/isolinux
(cd "$root" && CGO_ENABLED=0 go build -o "$work/root/init" ./tools/amx-vm/init)
if [ $# -eq 0 ]; then
  set -- ./tensor 'Sbgemm|BF16|Packing' ./backbones 'BF16'
fi
n=0
while [ $# -ge 2 ]; do
  n=$((n + 1))
  name="$n$(basename "$1")"
  (cd "$root" && CGO_ENABLED=0 go test -c -o "$work/root/t/$name.test" "$1")
  echo "-test.run $2 -test.short -test.v -test.count=1" > "root/t/$name.test.args"
  echo "GOMAXPROCS=3" > "root/t/$name.test.env" # several threads on one CPU: tile state crosses context switches
  # The same tests again on the AVX512-BF16 kernel (the default is AMX).
  cp "root/t/$name.test" "root/t/${name}-avx512bf16.test"
  cp "root/t/$name.test.args" "root/t/${name}-avx512bf16.test.args"
  echo "GOMAXPROCS=3 GLORA_BF16_KERNEL=avx512bf16-14x32" > "root/t/${name}-avx512bf16.test.env"
  shift 2
done
(cd root && find . | cpio -o -H newc 2>/dev/null | gzip -1 > ../iso/initrd.gz)
cp vmlinuz iso/vmlinuz
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 iso/isolinux/
cat > iso/isolinux/isolinux.cfg <<'CFG'
DEFAULT t
PROMPT 0
TIMEOUT 0
LABEL t
  KERNEL /vmlinuz
  APPEND initrd=/initrd.gz console=ttyS0,115200 quiet no5lvl nokaslr lsm=capability mitigations=off idle=halt lapic=notscdeadline nohz=off
CFG
xorriso -as mkisofs -quiet -o test.iso -b isolinux/isolinux.bin -c isolinux/boot.cat \
  -no-emul-boot -boot-load-size 4 -boot-info-table iso 2>/dev/null

# 4. Boot it; the serial console is the test log.
cat > bochsrc <<EOF
megs: 1024
cpu: model=sapphire_rapids, count=1, ips=200000000
romimage: file=$work/bios/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=$work/bios/usr/share/vgabios/vgabios.bin
ata0-master: type=cdrom, path=$work/test.iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=$work/serial.txt
display_library: nogui
log: $work/bochs.log
panic: action=fatal
error: action=report
info: action=ignore
clock: sync=none, time0=local
EOF
rm -f serial.txt
echo "amx-vm: booting (log: $work/serial.txt)"
timeout 3600 bochs-3.0/bochs -q -f bochsrc >bochs.out 2>&1 || true
sed -n '/^VM: /,$p' serial.txt | grep -v '^\[ *[0-9.]*\]'
grep -q '^VM: DONE' serial.txt || { echo "amx-vm: the machine did not finish (see $work/serial.txt, $work/bochs.log)"; exit 1; }
! grep -q '^VM: FAIL' serial.txt
