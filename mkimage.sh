#!/usr/bin/env bash
# mkimage.sh IMAGE BOOTSECTOR KERNEL PROGRAM...: writes the WeensyOS disk
# image: the boot sector (signed 0x55 0xAA) in sector 0, the kernel's ELF
# image from sector 1, and at PROGRAM_DIR_SECTOR (k-ata.hh) a directory of
# the programs followed by their ELF images. Program p-NAME.elf is "NAME".
# Written to start few processes: it runs on every rebuild.
set -euo pipefail

# The disk layout, as the build generated it from k-ata.hh (k-asmdefs.cc).
asm_h="$(dirname "$0")/obj/k-asm.h"
define() { sed -n "s/^#define $1 //p" "$asm_h"; }
DIR_SECTOR=$(define PROGRAM_DIR_SECTOR)
DIR_SECTORS=$(define PROGRAM_DIR_SECTORS)
DIR_ENTRY=$(define PROGRAM_DIR_ENTRY_SIZE)
NAME_SIZE=$(define PROGRAM_NAME_SIZE)
MAGIC=$(define PROGRAM_DIR_MAGIC)
MAGIC=${MAGIC//\"/}

image=$1 bootsector=$2 kernel=$3
shift 3
tmp="$image.$$"
fail() { echo "mkimage.sh: $*" >&2; rm -f "$tmp"; exit 1; }
[ -n "$DIR_SECTOR" ] && [ -n "$MAGIC" ] || fail "$asm_h lacks the disk layout: run make"

# Every file's size, from one stat.
mapfile -t sizes < <(stat -c %s "$bootsector" "$kernel" "$@")
bootsize=${sizes[0]} kernelsize=${sizes[1]}

[ "$bootsize" -le 510 ] || fail "boot sector is $bootsize bytes; it must fit in 510"
[ $(( (kernelsize + 511) / 512 )) -lt "$DIR_SECTOR" ] \
    || fail "kernel image is larger than $((DIR_SECTOR - 1)) sectors"
capacity=$((DIR_SECTORS * 512 / DIR_ENTRY - 1))     # the header takes an entry
[ $# -le "$capacity" ] || fail "$# programs, but the disk's program directory holds $capacity:" \
    "remove programs, or raise PROGRAM_DIR_SECTORS in k-ata.hh (a multiple of 8;" \
    "each 8 sectors hold 64 more) and run make again"

# le32 N: appends N as 4 little-endian bytes (printf escapes) to `dir`.
dir=""
le32() {
    local b
    printf -v b '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) \
        $(($1 >> 16 & 255)) $(($1 >> 24 & 255))
    dir+=$b
}
# entry NAME SECTOR SIZE: a directory entry (struct program_dir_entry):
# name[NAME_SIZE], sector, size, reserved bytes.
entry() {
    local pad
    printf -v pad '%*s' $((NAME_SIZE - ${#1})) ''
    dir+="$1${pad// /\\x00}"
    le32 "$2"
    le32 "$3"
    printf -v pad '%*s' $((DIR_ENTRY - NAME_SIZE - 8)) ''
    dir+=${pad// /\\x00}
}

# The directory: each program starts on a sector boundary after it.
entry "$MAGIC" $# 0
sector=$((DIR_SECTOR + DIR_SECTORS))
i=2
for p in "$@"; do
    name=${p##*/}
    name=${name%.elf}
    name=${name#p-}
    [ ${#name} -lt "$NAME_SIZE" ] || fail "program name too long: $name"
    entry "$name" "$sector" "${sizes[i]}"
    sector=$((sector + (sizes[i] + 511) / 512))
    i=$((i + 1))
done

{
    cat "$bootsector"
    head -c $((510 - bootsize)) /dev/zero
    printf '\x55\xAA'
    cat "$kernel"
    head -c $(( (DIR_SECTOR - 1) * 512 - kernelsize )) /dev/zero
    printf %b "$dir"
    head -c $(( DIR_SECTORS * 512 - ($# + 1) * DIR_ENTRY )) /dev/zero
    i=2
    for p in "$@"; do
        cat "$p"
        head -c $(( (512 - sizes[i] % 512) % 512 )) /dev/zero
        i=$((i + 1))
    done
} > "$tmp"
mv "$tmp" "$image"
