/* ABI conformance: our header first, then libvirt 9.0's own declarations of
 * the same functions (tests/abi/gen-conform.py extracts them from Debian's
 * libvirt-dev). Any difference in a return or parameter type is a
 * "conflicting types" error under -Werror. Enum values and struct layouts
 * are compared by enum_dump.c. Also checks the double include. */
#include <virsnap.h>
#include <virsnap.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include "libvirt-prototypes.h"

_Static_assert(sizeof(virError) == 80, "virError is 80 bytes on x86-64");
_Static_assert(offsetof(virError, int1) == 64, "virError.int1 at 64");
_Static_assert(VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS == VIR_DOMAIN_SNAPSHOT_LIST_ROOTS, "same bit");
_Static_assert(VIR_DOMAIN_SNAPSHOT_DELETE_MERGE == (1 << 16), "seed delete modes on bits 16..19");
_Static_assert(VIR_DOMAIN_SNAPSHOT_DELETE_DISCARD_FORCE == (1 << 19), "seed delete modes on bits 16..19");

int main(void) { return 0; }
