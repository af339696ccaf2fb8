#!/usr/bin/env bash
# mkimage.sh IMAGE BOOTSECTOR KERNEL PROGRAM...: writes the WeensyOS disk
# image: the boot sector (signed 0x55 0xAA) in sector 0, the kernel's ELF
# image from sector 1, and at PROGRAM_DIR_SECTOR (k-ata.hh) a directory of
# the programs followed by their ELF images. Program p-NAME.elf is "NAME".
set -euo pipefail

DIR_SECTOR=1024             # PROGRAM_DIR_SECTOR in k-ata.hh
DIR_SECTORS=8               # PROGRAM_DIR_SECTORS
DIR_ENTRY=64                # sizeof(program_dir_entry)
MAGIC="WeensyOS programs"   # PROGRAM_DIR_MAGIC

image=$1 bootsector=$2 kernel=$3
shift 3

fail() { echo "mkimage.sh: $*" >&2; rm -f "$tmp"; exit 1; }
sectors_of() { echo $(( ($(stat -c %s "$1") + 511) / 512 )); }
# Little-endian 32-bit integer as bytes.
le32() { printf "\\x$(printf %02x $(($1 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 24 & 255)))"; }
# A 64-byte directory entry: name[48], sector, size, 8 reserved bytes.
entry() {
    printf '%s' "$1"
    head -c $((48 - ${#1})) /dev/zero
    le32 "$2"
    le32 "$3"
    head -c 8 /dev/zero
}

tmp=$(mktemp "$image.XXXXXX")
bootsize=$(stat -c %s "$bootsector")
[ "$bootsize" -le 510 ] || fail "boot sector is $bootsize bytes; it must fit in 510"
[ "$(sectors_of "$kernel")" -lt "$DIR_SECTOR" ] \
    || fail "kernel image is larger than $((DIR_SECTOR - 1)) sectors"
[ $# -lt $((DIR_SECTORS * 512 / DIR_ENTRY)) ] || fail "too many programs for the directory"

# Boot sector and kernel.
cat "$bootsector" > "$tmp"
head -c $((510 - bootsize)) /dev/zero >> "$tmp"
printf '\x55\xAA' >> "$tmp"
cat "$kernel" >> "$tmp"
truncate -s $((DIR_SECTOR * 512)) "$tmp"

# Directory, then each program on a sector boundary.
sector=$((DIR_SECTOR + DIR_SECTORS))
{
    entry "$MAGIC" $# 0
    for p in "$@"; do
        name=$(basename "$p" .elf)
        name=${name#p-}
        [ ${#name} -lt 48 ] || fail "program name too long: $name"
        entry "$name" "$sector" "$(stat -c %s "$p")"
        sector=$((sector + $(sectors_of "$p")))
    done
} >> "$tmp"
truncate -s $(((DIR_SECTOR + DIR_SECTORS) * 512)) "$tmp"
for p in "$@"; do
    cat "$p" >> "$tmp"
    truncate -s $(( ($(stat -c %s "$tmp") + 511) / 512 * 512 )) "$tmp"
done
mv "$tmp" "$image"
